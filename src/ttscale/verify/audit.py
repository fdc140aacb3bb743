"""Gold audit: run every problem's reference solution several times and flag broken or flaky tests.

The reference papers found public benchmarks with tests that reject the reference solution or
pass and fail at random; such problems should be excluded (`datasets.<name>.exclude`) rather than
counted against every model. Math problems with a worked solution are checked for agreement
between the solution's final answer and the reference answer.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from ttscale.io import read_table, write_table
from ttscale.schemas import AUDIT, PROBLEMS
from ttscale.verify import verify_items
from ttscale.verify.reference import reference_cpu

log = logging.getLogger(__name__)


def audit_problems(problems: list[dict[str, Any]], settings: dict[str, Any], repeats: int = 3) -> list[dict[str, Any]]:
    """One audit row per problem: code solutions run `repeats` times (flaky tests), math once.

    Each repeat is its own verify call: within one call the code verifier runs each distinct
    (problem, program) once, so repeats batched together would all share a single sandbox run.
    """
    items = []
    for p in problems:
        if not p.get("solution"):
            continue
        # the reference solution is a full response: no prompt prefix (it already holds the stub)
        item = {**p, "text": p["solution"], "assistant_prefix": ""}
        if p.get("task") == "code":
            item["metadata"] = "{}"  # do not prepend the stub to a solution that contains it
        items.append(item)
    code = [it for it in items if it.get("task") == "code"]
    by_problem: dict[str, list[dict[str, Any]]] = {}
    for batch in [items] + [code] * max(repeats - 1, 0):
        if not batch:
            continue
        for it, v in zip(batch, verify_items(batch, settings), strict=True):
            by_problem.setdefault(it["problem_id"], []).append(v)
    rows = []
    for p in problems:
        vs = by_problem.get(p["problem_id"], [])
        passes = sum(v["correct"] for v in vs)
        if not vs:
            kind = "no_solution"
        elif passes == len(vs):
            kind = "ok"
        elif passes == 0:
            kind = "broken"
        else:
            kind = "flaky"
        err = next((v["output_tail"] for v in vs if not v["correct"]), "")
        rows.append({"problem_id": p["problem_id"], "runs": len(vs), "passes": passes, "verdict": kind,
                     "statuses": ",".join(f"{k}:{n}" for k, n in sorted(Counter(v["status"] for v in vs).items())),
                     "first_error": err[-500:], "ref_cpu_s": reference_cpu(vs)})
    return rows


def audit_dataset(problems_path: str | Path, output: str | Path, settings: dict[str, Any], repeats: int = 3,
                  threads: int = 1) -> dict[str, int]:
    problems = read_table(problems_path, PROBLEMS).to_pylist()
    # the reference solutions themselves run under the fixed limits
    fixed = {k: v for k, v in settings.items() if k != "reference_limits"}
    rows = audit_problems(problems, {**fixed, "workers": fixed.get("workers") or threads}, repeats)
    counts = Counter(r["verdict"] for r in rows)
    write_table(output, pa.Table.from_pylist(rows, schema=AUDIT), AUDIT, metadata={"repeats": repeats, **counts})
    bad = [r["problem_id"] for r in rows if r["verdict"] in ("broken", "flaky")]
    if bad:
        log.warning("%s: %d problems with broken or flaky tests; to leave them out of analysis add to the "
                    "dataset's config: exclude: %s", problems_path, len(bad), bad)
    log.info("audit of %s: %s", problems_path, dict(counts))
    return dict(counts)
