"""Experiment-level tables: every run's curves and fits in one place, a per-run summary, and the
compute-matched comparison of models on a dataset (Large Language Monkeys' table shape: a cheap model
with many samples against an expensive one with few, at equal FLOPs or dollars).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ttscale.analysis.passk import pass_at_k_matrix
from ttscale.analysis.selectors import ORACLE
from ttscale.analysis.settings import analysis_settings
from ttscale.analysis.stats import boot_means, interval, resample_counts, rng_for
from ttscale.analysis.strategies import compare_strategies
from ttscale.analysis.tables import COMBINED, EXP_SCHEMAS, MATCHED, SUMMARY
from ttscale.errors import DataError
from ttscale.io import write_table

log = logging.getLogger(__name__)

COST_NUMBERS = ("n", "n_correct", "prompt_flops", "decode_flops", "prompt_dollars", "decode_dollars")

def _concat(paths: Sequence[str | Path], schema: pa.Schema) -> pa.Table:
    """The tables at `paths`, each once (a search run's file holds all its budgets, and the run is
    listed once per budget)."""
    tables = []
    for p in dict.fromkeys(str(p) for p in paths):
        if not Path(p).exists():
            raise DataError(f"{p}: file does not exist")
        tables.append(pq.read_table(p).select(schema.names).cast(schema))
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _sorted(table: pa.Table, keys: list[str]) -> pa.Table:
    return table.sort_by([(k, "ascending") for k in keys if k in table.column_names])


def best_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The row with the highest value; values equal to 1e-9 (all selectors at k = 1) go to the first
    selector in name order, so the choice is stable."""
    best = None
    for r in sorted(rows, key=lambda r: r["selector"]):
        if best is None or round(r["value"], 9) > round(best["value"], 9):
            best = r
    return best


def _run_id(model: str, sampling: str) -> str:
    return f"{model} · {sampling}"


def _known_mean(values: list[float | None]) -> float:
    """Mean over the problems whose cost is known (NaN: no token counts); NaN if none is."""
    arr = np.asarray([np.nan if v is None else v for v in values], np.float64)
    known = arr[~np.isnan(arr)]
    return float(known.mean()) if known.size else float("nan")


def summary_table(curves: pa.Table, costs: pa.Table, once: bool) -> pa.Table:
    """One row per run: size, pass@1, coverage at n, the best selector at n, tokens and cost per sample
    (means over the problems with known token counts: one problem without them, e.g. imported samples,
    does not empty the run's cost)."""
    cur = curves.filter(pc.equal(curves["scheme"], "all")).to_pylist()
    rows = []
    runs = sorted({(r["model"], r["dataset"], r["sampling"]) for r in cur})
    cost_rows = costs.to_pylist()
    for model, dataset, sampling in runs:
        mine = [r for r in cur if (r["model"], r["dataset"], r["sampling"]) == (model, dataset, sampling)]
        cov = sorted((r for r in mine if r["metric"] == "coverage"), key=lambda r: r["k"])
        n = int(cov[-1]["k"])
        at_n = [r for r in mine if r["metric"] == "accuracy" and r["k"] == n]
        best = best_row(at_n)
        vote = next((r["value"] for r in at_n if r["selector"] == "vote"), np.nan)
        rc = [r for r in cost_rows if (r["model"], r["dataset"], r["sampling"]) == (model, dataset, sampling)]
        pt, ct, pf, df, pdl, ddl = (_known_mean([r[k] for r in rc]) for k in (
            "prompt_tokens", "completion_tokens", "prompt_flops", "decode_flops", "prompt_dollars", "decode_dollars"))
        per_sample_f = df + (pf / n if once else pf)
        per_sample_d = ddl + (pdl / n if once else pdl)
        rows.append({"model": model, "dataset": dataset, "sampling": sampling, "problems": int(cov[0]["n_problems"]),
                     "n": n, "pass_at_1": cov[0]["value"], "coverage_at_n": cov[-1]["value"],
                     "coverage_lo": cov[-1]["ci_lo"], "coverage_hi": cov[-1]["ci_hi"],
                     "best_selector": best["selector"] if best else None,
                     "best_selector_at_n": best["value"] if best else np.nan, "vote_at_n": vote,
                     "prompt_tokens": pt, "completion_tokens": ct, "flops_per_sample": float(per_sample_f),
                     "dollars_per_sample": float(per_sample_d)})
    return pa.Table.from_pylist(rows, schema=SUMMARY)


def _best_within(acc: list[dict[str, Any]], run: tuple[str, str, str], unit: str, budget: float,
                 k: int) -> dict[str, Any] | None:
    """The run's best selector within the budget: each selector at the largest grid k whose cost in
    `unit` (the curves' cost, which charges a selector's reward model its FLOPs) fits the budget,
    or, where that cost is unknown, at the largest grid k not above the matched k."""
    per: dict[str, dict[str, Any]] = {}
    for r in acc:
        if (r["model"], r["dataset"], r["sampling"]) != run:
            continue
        cost = r.get(unit)
        fits = cost <= budget * (1 + 1e-9) if cost is not None and np.isfinite(cost) else r["k"] <= k
        if fits and (r["selector"] not in per or r["k"] > per[r["selector"]]["k"]):
            per[r["selector"]] = r
    return best_row(list(per.values())) if per else None


def compute_matched(costs: pa.Table, curves: pa.Table, settings: dict[str, Any], seed: int) -> pa.Table:
    """For each dataset, unit (FLOPs, dollars), reference run and reference k: every run's largest k
    whose mean cost per problem fits the reference's budget, its coverage (exact pass@k at that k,
    bootstrap interval) and its best selector within the same budget (a selector that reads a
    reward model pays its FLOPs too, so it may get fewer samples: `selector_k`)."""
    once = settings["cost"]["prompt_once"]
    B, conf = settings["bootstrap"], settings["confidence"]
    by_run: dict[tuple[str, str, str], dict[str, np.ndarray]] = {}
    for r in costs.to_pylist():
        d = by_run.setdefault((r["model"], r["dataset"], r["sampling"]), {k: [] for k in COST_NUMBERS})
        for k in d:
            d[k].append(r[k])
    runs = {key: {k: np.asarray(v, np.float64) for k, v in d.items()} for key, d in by_run.items()}
    acc = [r for r in curves.filter(pc.equal(curves["scheme"], "all")).to_pylist()
           if r["metric"] == "accuracy"]
    rows = []
    for dataset in sorted({k[1] for k in runs}):
        members = sorted(k for k in runs if k[1] == dataset)
        for unit in ("flops", "dollars"):
            for ref in members:
                for k_ref in settings["compute_matched"]["ks"]:
                    rc = runs[ref]
                    n_ref = int(rc["n"][0])
                    if k_ref > n_ref:
                        continue
                    A_ref, D_ref = rc[f"prompt_{unit}"].mean(), rc[f"decode_{unit}"].mean()
                    budget = A_ref + k_ref * D_ref if once else k_ref * (A_ref + D_ref)
                    if not np.isfinite(budget) or budget <= 0:
                        continue
                    for run in members:
                        c = runs[run]
                        A, D = c[f"prompt_{unit}"].mean(), c[f"decode_{unit}"].mean()
                        n = int(c["n"][0])
                        if run == ref:
                            k = k_ref
                        elif not np.isfinite(A + D) or D + (0 if once else A) <= 0:
                            continue
                        else:
                            per = (budget - A) / D if once else budget / (A + D)
                            k = int(np.floor(per + 1e-9))
                            k = min(k, n)
                        row = {"dataset": dataset, "unit": unit, "reference": _run_id(ref[0], ref[2]),
                               "reference_k": k_ref, "budget": float(budget), "model": run[0], "sampling": run[2],
                               "k": k if k >= 1 else None, "cost": np.nan, "coverage": np.nan, "coverage_lo": np.nan,
                               "coverage_hi": np.nan, "best_selector": None, "selector_k": None,
                               "selector_accuracy": np.nan}
                        if k >= 1:
                            per = pass_at_k_matrix(c["n"].astype(np.int64), c["n_correct"].astype(np.int64),
                                                   np.array([k]))
                            counts = resample_counts(len(per), B, rng_for(seed, "matched", run, unit, ref, k_ref))
                            lo, hi = interval(boot_means(per, counts)[:, 0], conf)
                            row.update(cost=float(A + k * D if once else k * (A + D)), coverage=float(per.mean()),
                                       coverage_lo=float(lo), coverage_hi=float(hi))
                            best = _best_within(acc, run, unit, budget, k)
                            if best is not None:
                                row.update(best_selector=best["selector"], selector_k=int(best["k"]),
                                           selector_accuracy=best["value"])
                        rows.append(row)
    return pa.Table.from_pylist(rows, schema=MATCHED)


def combine(run_files: Sequence[dict[str, str]], outputs: dict[str, str | Path],
            settings: dict[str, Any] | None = None, seed: int = 0) -> dict[str, Any]:
    """Concatenate the runs' tables (sorted, so the result does not depend on the input order) and
    add the summary, compute-matched and strategy tables. `run_files`: per run, table name -> path,
    plus for search runs `model`, `dataset`, `sampling` (the budget's label), `strategy` and `budget`."""
    st = analysis_settings(settings)
    seed = st["seed"] if st.get("seed") is not None else seed
    keys = ["dataset", "model", "sampling"]
    tables = {}
    for name in COMBINED:
        t = _concat([rf[name] for rf in run_files], EXP_SCHEMAS[name])
        order = {"curves": [*keys, "metric", "selector", "scheme", "bin", "k"], "fits": [*keys, "fit_on"],
                 "extrapolation": [*keys, "predictor", "k"], "optimal": [*keys, "scheme", "k"],
                 "costs": [*keys, "problem_id"]}[name]
        tables[name] = _sorted(t, order)
    tables["summary"] = _sorted(summary_table(tables["curves"], tables["costs"], st["cost"]["prompt_once"]), keys)
    tables["matched"] = compute_matched(tables["costs"], tables["curves"], st, seed)
    tables["strategies"], tables["strategy_points"] = compare_strategies(run_files, tables["costs"], st, seed)
    for name, path in outputs.items():
        write_table(path, tables[name], EXP_SCHEMAS[name], metadata={"runs": len(run_files)})
    log.info("combined %d runs: %d curve points, %d fits", len(run_files), tables["curves"].num_rows,
             tables["fits"].num_rows)
    return {"runs": len(run_files), "curve_points": tables["curves"].num_rows}


__all__ = ["ORACLE", "combine", "compute_matched", "summary_table"]
