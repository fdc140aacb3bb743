"""Imperfect verifiers: every curve under the base and the extended tests, false-positive rates, the inflation
of coverage and the ceiling that resampling with the base tests as verifier runs into.

A false positive is a sample that passes a problem's base tests and fails its extended ones (ttscale.verify.
extended). With c_b base passes and c_e extended passes among n samples of a problem:

- false-positive rate of the problem: (c_b - c_e) / c_b (Wilson interval over its base passes); of a run: the
  pooled ratio over problems with extended tests, with a bootstrap interval over problems;
- inflation@k: coverage@k under the base tests minus under the extended ones (paired bootstrap interval);
- resampling with the base tests as verifier (Stroebl et al. 2024): draw k samples, submit one that passes the
  base tests (any, uniformly): it is right with probability (c_e / c_b) · pass@k(n, c_b, k), which rises to
  the ceiling c_e / c_b = 1 - FPR as k grows; the run's ceiling is its mean over problems (0 where no sample
  passes), drawn beside the observed curves.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ttscale.aggregate import budget_parts
from ttscale.analysis.data import RunData, load_run
from ttscale.analysis.estimators import group_labels
from ttscale.analysis.passk import pass_at_k_matrix
from ttscale.analysis.run import ORACLE, selector_values
from ttscale.analysis.settings import analysis_settings
from ttscale.analysis.stats import boot_means, interval, k_grid, resample_counts, rng_for
from ttscale.errors import DataError
from ttscale.io import write_table

log = logging.getLogger(__name__)

# metric: coverage | accuracy (a selector), each under tests base | extended; inflation (base - extended
# coverage); verifier (resampling with the base tests as verifier, right under the extended ones); ceiling
IMPERFECT_CURVES = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("metric", pa.string()),
    ("selector", pa.string()), ("tests", pa.string()), ("k", pa.int64()), ("value", pa.float64()),
    ("ci_lo", pa.float64()), ("ci_hi", pa.float64()), ("n_problems", pa.int64()),
])

IMPERFECT_PROBLEMS = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("problem_id", pa.string()),
    ("extended", pa.bool_()), ("n", pa.int64()), ("base_passes", pa.int64()), ("extended_passes", pa.int64()),
    ("false_positives", pa.int64()), ("fpr", pa.float64()), ("fpr_lo", pa.float64()), ("fpr_hi", pa.float64()),
])

IMPERFECT_SUMMARY = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("problems", pa.int64()),
    ("problems_extended", pa.int64()), ("n", pa.int64()), ("base_passes", pa.int64()),
    ("false_positives", pa.int64()), ("fpr", pa.float64()), ("fpr_lo", pa.float64()), ("fpr_hi", pa.float64()),
    ("problems_with_fp", pa.int64()), ("coverage_base", pa.float64()), ("coverage_extended", pa.float64()),
    ("inflation", pa.float64()), ("inflation_lo", pa.float64()), ("inflation_hi", pa.float64()),
    ("verifier_at_n", pa.float64()), ("ceiling", pa.float64()), ("ceiling_lo", pa.float64()),
    ("ceiling_hi", pa.float64()),
])


def wilson(successes: int, trials: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (NaN without trials)."""
    from scipy.stats import norm

    if trials == 0:
        return math.nan, math.nan
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / trials
    den = 1 + z * z / trials
    mid = (p + z * z / (2 * trials)) / den
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / den
    lo, hi = max(0.0, mid - half), min(1.0, mid + half)
    return (0.0 if successes == 0 else lo), (1.0 if successes == trials else hi)


def _under_extended(data: RunData) -> RunData:
    """The run as if the extended tests were the verifier: answer groups re-scored with the new correctness."""
    labels, sizes, corr = group_labels(data.labels, data.correct_extended)
    return dataclasses.replace(data, correct=data.correct_extended, labels=labels, group_sizes=sizes,
                               group_corr=corr)


def imperfect_run(samples: str | Path, problems: str | Path, settings: dict[str, Any] | None = None,
                  seed: int = 0, threads: int = 1) -> tuple[list[dict], list[dict], dict[str, Any]] | None:
    """Curves, per-problem rows and the summary row of one run; None if it has no extended verdicts."""
    st = analysis_settings(settings)
    seed = st["seed"] if st.get("seed") is not None else seed
    data = load_run(samples, problems)
    if data.correct_extended is None:
        return None
    ident = {"model": data.model, "dataset": data.dataset, "sampling": data.sampling}
    P, n = data.correct.shape
    ks = k_grid(n, st["grid_base"], st["ks"])
    conf, B = st["confidence"], st["bootstrap"]
    # the same selector draws under both verdicts: differences come from the tests, not the Monte Carlo
    base = selector_values(data, ks, st, rng_for(seed, "imperfect", *ident.values()), threads)
    ext = selector_values(_under_extended(data), ks, st, rng_for(seed, "imperfect", *ident.values()), threads)
    cb, ce = data.correct.sum(axis=1), data.correct_extended.sum(axis=1)
    cover = pass_at_k_matrix(np.full(P, n), cb, ks)
    share = np.divide(ce, cb, out=np.zeros(P), where=cb > 0)
    values = {("verifier", "base"): share[:, None] * cover, ("ceiling", "base"): np.repeat(share[:, None], len(ks), 1),
              ("inflation", "base"): base[ORACLE][0] - ext[ORACLE][0]}
    for tests, vals in (("base", base), ("extended", ext)):
        for sel, (v, _) in vals.items():
            values[("coverage" if sel == ORACLE else "accuracy:" + sel, tests)] = v
    counts = resample_counts(P, B, rng_for(seed, "imperfect-bootstrap", *ident.values()))
    curves = []
    for (metric, tests), v in values.items():
        lo, hi = interval(boot_means(v, counts), conf)
        mean = v.mean(axis=0)
        name, _, selector = metric.partition(":")
        for j, k in enumerate(ks):
            curves.append({**ident, "metric": name, "selector": selector or ORACLE, "tests": tests, "k": int(k),
                           "value": float(mean[j]), "ci_lo": float(lo[j]), "ci_hi": float(hi[j]), "n_problems": P})

    has = data.extended if data.extended is not None else np.zeros(P, bool)
    rows = []
    for i, pid in enumerate(data.problem_ids):
        fp = int(cb[i] - ce[i])
        lo, hi = wilson(fp, int(cb[i]), conf)
        rows.append({**ident, "problem_id": pid, "extended": bool(has[i]), "n": n, "base_passes": int(cb[i]),
                     "extended_passes": int(ce[i]), "false_positives": fp,
                     "fpr": fp / cb[i] if cb[i] else math.nan, "fpr_lo": lo, "fpr_hi": hi})
    if (ce > cb).any():
        raise DataError(f"{samples}: a sample is correct under the extended tests but not the base ones")
    # pooled over problems with extended tests; bootstrap over those problems (a ratio of sums)
    idx = np.flatnonzero(has)
    fps, passes = (cb - ce)[idx].astype(np.float64), cb[idx].astype(np.float64)
    fpr = float(fps.sum() / passes.sum()) if passes.sum() else math.nan
    c2 = resample_counts(len(idx), B, rng_for(seed, "imperfect-fpr", *ident.values()))
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (c2 @ fps) / (c2 @ passes) if len(idx) else np.full(B, np.nan)
    reps = reps[np.isfinite(reps)]
    fpr_lo, fpr_hi = (float(x) for x in interval(reps, conf)) if len(reps) else (math.nan, math.nan)
    last = {(r["metric"], r["selector"], r["tests"]): r for r in curves if r["k"] == n}
    infl, ceil = last[("inflation", ORACLE, "base")], last[("ceiling", ORACLE, "base")]
    summary = {**ident, "problems": P, "problems_extended": len(idx), "n": n, "base_passes": int(passes.sum()),
               "false_positives": int(fps.sum()), "fpr": fpr, "fpr_lo": fpr_lo, "fpr_hi": fpr_hi,
               "problems_with_fp": int(((cb - ce) > 0).sum()),
               "coverage_base": last[("coverage", ORACLE, "base")]["value"],
               "coverage_extended": last[("coverage", ORACLE, "extended")]["value"],
               "inflation": infl["value"], "inflation_lo": infl["ci_lo"], "inflation_hi": infl["ci_hi"],
               "verifier_at_n": last[("verifier", ORACLE, "base")]["value"],
               "ceiling": ceil["value"], "ceiling_lo": ceil["ci_lo"], "ceiling_hi": ceil["ci_hi"]}
    log.info("%s/%s/%s: %d false positives of %d base passes (FPR %.3f [%.3f, %.3f]); coverage@%d %.3f base, "
             "%.3f extended", *ident.values(), summary["false_positives"], summary["base_passes"], fpr, fpr_lo,
             fpr_hi, n, summary["coverage_base"], summary["coverage_extended"])
    return curves, rows, summary


def imperfect_experiment(runs: list[dict[str, str]], outputs: dict[str, str | Path],
                         settings: dict[str, Any] | None = None, seed: int = 0, threads: int = 1) -> dict[str, Any]:
    """The three tables over all runs (`runs`: samples and problems paths of each run's aggregate), sorted."""
    curves, problems, summary = [], [], []
    with tempfile.TemporaryDirectory(prefix="ttscale-imperfect-") as tmp:
        for r in runs:
            # a search run's tables hold each of its budgets as a run of its own
            for samples, probs in budget_parts(r["samples"], r["problems"], tmp):
                res = imperfect_run(samples, probs, settings, seed, threads)
                if res is None:
                    log.warning("%s: no extended verdicts (no extended tests for its problems)", r["samples"])
                    continue
                curves += res[0]
                problems += res[1]
                summary.append(res[2])
    key = ("dataset", "model", "sampling")
    curves.sort(key=lambda r: (*(r[c] for c in key), r["metric"], r["selector"], r["tests"], r["k"]))
    problems.sort(key=lambda r: (*(r[c] for c in key), r["problem_id"]))
    summary.sort(key=lambda r: tuple(r[c] for c in key))
    meta = {"runs": len(runs), "with_extended": len(summary)}
    write_table(outputs["curves"], pa.Table.from_pylist(curves, schema=IMPERFECT_CURVES), IMPERFECT_CURVES, meta)
    write_table(outputs["problems"], pa.Table.from_pylist(problems, schema=IMPERFECT_PROBLEMS), IMPERFECT_PROBLEMS,
                meta)
    write_table(outputs["summary"], pa.Table.from_pylist(summary, schema=IMPERFECT_SUMMARY), IMPERFECT_SUMMARY, meta)
    return {**meta, "summary": summary}
