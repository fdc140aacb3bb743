"""Generation stage throughput against a bare vllm.LLM.generate on the same prompts.

Both sides use one engine (loaded once), the same rendered prompts, the same per-sample seeds and
sampling parameters, so they produce the same tokens; the stage's overhead is everything around
the engine call: reading the problem table, rendering prompts, deriving seeds, building and
writing the shard. Runs alternate (stage, bare, stage, bare, ...) and the median counts.

    .venv/bin/python benchmarks/generation.py [--problems 16 --samples 16 --max-tokens 64 --repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from ttscale.blocks import Block
from ttscale.config import validate
from ttscale.generate import BACKENDS, build_requests, run_block
from ttscale.generate.vllm_backend import sampling_params
from ttscale.io import read_table, write_table
from ttscale.keys import sampling_key
from ttscale.problems import build_problems
from ttscale.schemas import PROBLEMS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=16)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtype", default="float32")
    args = ap.parse_args()

    model = REPO / "resources" / "models" / "smollm2-135m-instruct"
    if not (model / "config.json").exists():
        from ttscale.models.build import build

        build("smollm2_gguf", model)
    config = validate({
        "models": {"smol": {"path": str(model), "dtype": args.dtype, "max_model_len": 1024}},
        "datasets": {"arith": {"loader": "reasoning_gym",
                               "args": {"task": "basic_arithmetic", "size": args.problems, "seed": 1},
                               "prompt": {"template": "{question}\nGive the final number after 'The answer is'."}}},
        "sampling": {"s": {"temperature": 0.8, "top_p": 0.95, "max_tokens": args.max_tokens}},
    })
    tmp = Path(tempfile.mkdtemp(prefix="ttscale-bench-gen-"))
    problems = tmp / "arith.parquet"
    write_table(problems, build_problems("arith", config["datasets"]["arith"], tmp), PROBLEMS)
    key = sampling_key(config, "smol", "arith", "s", tmp)
    block = Block(0, args.problems, 0, args.samples)

    t0 = time.time()
    backend = BACKENDS.get("vllm")("smol", config["models"]["smol"], tmp, seed=config["seed"])
    print(f"engine start: {time.time() - t0:.1f}s", flush=True)
    llm, tok = backend.llm, backend.tokenizer

    def stage(i: int) -> tuple[float, int]:
        out = tmp / f"stage{i}" / f"{block.name}.parquet"
        start = time.perf_counter()
        run_block(config, "smol", "arith", key, block.name, problems, out, root=tmp, backend=backend)
        seconds = time.perf_counter() - start
        return seconds, int(pq.read_table(out, columns=["completion_tokens"])["completion_tokens"].to_numpy().sum())

    # the bare side gets its prompts and parameters prepared outside the timed region
    rows = read_table(problems, PROBLEMS).to_pylist()
    reqs = build_requests(backend, rows, block, dict(config["sampling"]["s"]), experiment_seed=config["seed"],
                          model="smol", dataset="arith")
    prompts = [{"prompt_token_ids": tok.encode(r.prompt, add_special_tokens=r.add_special_tokens)} for r in reqs]
    params = [sampling_params(r.params, r.seed) for r in reqs]

    def bare() -> tuple[float, int]:
        start = time.perf_counter()
        outs = llm.generate(prompts, params, use_tqdm=False)
        seconds = time.perf_counter() - start
        return seconds, sum(len(o.outputs[0].token_ids) for o in outs)

    bare()  # warm-up (first call pays one-time costs)
    ours_rates, bare_rates = [], []
    for i in range(args.repeats):
        llm.reset_prefix_cache()  # both sides start from an empty prefix cache
        s_sec, s_tok = stage(i)
        llm.reset_prefix_cache()
        b_sec, b_tok = bare()
        ours_rates.append(s_tok / s_sec)
        bare_rates.append(b_tok / b_sec)
        print(f"repeat {i}: stage {s_tok} tok in {s_sec:.2f}s = {s_tok / s_sec:.0f} tok/s; "
              f"bare {b_tok} tok in {b_sec:.2f}s = {b_tok / b_sec:.0f} tok/s", flush=True)
        if s_tok != b_tok:
            print(f"warning: token counts differ ({s_tok} vs {b_tok})", flush=True)
    ours, base = statistics.median(ours_rates), statistics.median(bare_rates)
    print(f"{args.problems} problems x {args.samples} samples, max_tokens {args.max_tokens}, {args.dtype}")
    print(f"RESULT generation_throughput ours={ours:.1f} tok/s baseline={base:.1f} tok/s ratio={ours / base:.3f}")
    backend.close()


if __name__ == "__main__":
    main()
