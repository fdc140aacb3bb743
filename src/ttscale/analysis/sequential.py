"""Sequential against parallel scaling at equal compute: thinking longer or sampling more.

Budget forcing (ttscale.search.budget) runs a reasoning model at several thinking budgets T; each run
holds N samples per problem. Every (run, selector, k) is a point on one FLOPs axis: k samples of
budget T cost what the run's `values` table says (prompt once plus k mean completions, thinking
included). A budget-forcing run at k = 1 is pure sequential scaling (accuracy against thinking
tokens); a repeated-sampling run of the same model at k > 1 with the usual selectors is parallel
scaling; a budget-forcing run at k > 1 mixes both ("how many samples of which budget").

Per FLOPs budget (the cost of each sequential point) and difficulty bin, the compute-optimal split is
the best (run, selector, k) whose cost fits, chosen on one half of the problems and scored on the
other (two-fold, as the other compute-optimal tables), next to the best purely sequential and purely
parallel choices chosen the same way. Bins come from the repeated-sampling run's pass@1 (else from the
budget-forcing run with the largest budget), so every candidate is binned by one problem split.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ttscale.analysis.difficulty import bin_order, bin_schemes, compute_optimal, two_folds
from ttscale.analysis.run import ORACLE
from ttscale.analysis.stats import boot_means, interval, resample_counts, rng_for
from ttscale.errors import DataError
from ttscale.io import read_run

log = logging.getLogger(__name__)

SEQUENTIAL, PARALLEL, MIXED = "sequential", "parallel", "sequential x parallel"

# one row per run, k, scheme and bin: the run's best selector there (in sample, for the figure)
POINTS = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("scheme", pa.string()), ("bin", pa.string()),
    ("family", pa.string()), ("sampling", pa.string()), ("thinking_budget", pa.int64()), ("k", pa.int64()),
    ("selector", pa.string()), ("value", pa.float64()), ("ci_lo", pa.float64()), ("ci_hi", pa.float64()),
    ("thinking_tokens", pa.float64()), ("flops", pa.float64()), ("n_problems", pa.int64()),
])

# one row per FLOPs budget, scheme and bin: the compute-optimal split against each pure form
OPTIMAL = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("scheme", pa.string()), ("bin", pa.string()),
    ("flops_budget", pa.float64()), ("n_problems", pa.int64()), ("optimal", pa.float64()),
    ("sequential", pa.float64()), ("parallel", pa.float64()), ("gain_over_parallel", pa.float64()),
    ("gain_lo", pa.float64()), ("gain_hi", pa.float64()), ("choices", pa.string()), ("candidates", pa.int64()),
])


def _read_values(path: str, sampling: str) -> tuple[list[str], dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]]:
    """Problem ids (sorted) and (selector, k) -> (per-problem value, per-problem FLOPs) of run `sampling`."""
    t = read_run(path, ["selector", "k", "problem_id", "value", "flops"], sampling)
    pids = sorted(set(t["problem_id"].to_pylist()))
    where = {p: i for i, p in enumerate(pids)}
    out: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
    for s, k, p, v, f in zip(*(t[c].to_pylist() for c in ("selector", "k", "problem_id", "value", "flops")),
                             strict=True):
        val, fl = out.setdefault((s, int(k)), (np.full(len(pids), np.nan), np.full(len(pids), np.nan)))
        val[where[p]] = np.nan if v is None else v
        fl[where[p]] = np.nan if f is None else f
    return pids, out


def _thinking(path: str | None, pids: list[str], sampling: str) -> np.ndarray:
    """Mean thinking tokens per sample of each problem of run `sampling` (NaN without the column)."""
    out = np.full(len(pids), np.nan)
    if not path or "thinking_tokens" not in pq.read_schema(path).names:
        return out
    t = read_run(path, ["problem_id", "thinking_tokens"], sampling)
    g = t.group_by("problem_id", use_threads=False).aggregate([("thinking_tokens", "mean")])
    where = {p: i for i, p in enumerate(pids)}
    for p, m in zip(g["problem_id"].to_pylist(), g["thinking_tokens_mean"].to_pylist(), strict=True):
        if p in where and m is not None:
            out[where[p]] = m
    return out


def sequential_tables(runs: Sequence[dict[str, Any]], settings: dict[str, Any], seed: int
                      ) -> tuple[pa.Table, pa.Table]:
    """The POINTS and OPTIMAL tables. `runs`: per run its model, dataset, sampling, `values` (and
    `samples`, the aggregate per-sample table) paths, and for budget-forcing runs `thinking_budget`."""
    points: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    B, conf = settings["bootstrap"], settings["confidence"]
    for model, dataset in sorted({(r["model"], r["dataset"]) for r in runs if r.get("thinking_budget")}):
        here = [r for r in runs if (r["model"], r["dataset"]) == (model, dataset)]
        forced = sorted((r for r in here if r.get("thinking_budget")),
                        key=lambda r: (int(r["thinking_budget"]), r["sampling"]))
        plain = sorted((r for r in here if not r.get("strategy")),
                       key=lambda r: r["sampling"])
        members = [*forced, *plain[:1]]
        loaded = {r["sampling"]: _read_values(r["values"], r["sampling"]) for r in members}
        ref = plain[0] if plain else forced[-1]
        pids = loaded[ref["sampling"]][0]
        for r in members:
            if loaded[r["sampling"]][0] != pids:
                raise DataError(f"{r['values']}: run {r['sampling']} has other problems than {ref['sampling']} of "
                                f"{model}/{dataset}")
        pass1 = loaded[ref["sampling"]][1][(ORACLE, 1)][0]
        schemes = bin_schemes(pass1, settings["bins"])
        fold = two_folds(len(pids), rng_for(seed, "sequential-folds", model, dataset))
        # label -> (family, run, selector, k, values, flops)
        cands: dict[str, tuple[str, dict[str, Any], str, int, np.ndarray, np.ndarray]] = {}
        for r in members:
            t = r.get("thinking_budget")
            for (s, k), (val, fl) in loaded[r["sampling"]][1].items():
                if s == ORACLE:
                    continue
                family = PARALLEL if not t else (SEQUENTIAL if k == 1 else MIXED)
                name = f"T={int(t)}" if t else r["sampling"]
                cands[f"{name} · {s}@{k}"] = (family, r, s, k, val, fl)
        thinking = {r["sampling"]: _thinking(r.get("samples"), pids, r["sampling"]) for r in members}
        for scheme, labels in schemes.items():
            for b in ["all", *bin_order(scheme, labels)] if scheme != "all" else ["all"]:
                if (scheme == "all") != (b == "all"):
                    continue
                idx = np.ones(len(pids), bool) if b == "all" else labels == b
                points += _points(cands, thinking, idx, model, dataset, scheme, b, B, conf, seed)
        counts = resample_counts(len(pids), B, rng_for(seed, "sequential", model, dataset))
        mean_flops = {lab: float(np.nanmean(c[5])) if np.isfinite(c[5]).any() else np.nan for lab, c in cands.items()}
        budgets = sorted({mean_flops[lab] for lab, c in cands.items() if c[0] == SEQUENTIAL
                          and np.isfinite(mean_flops[lab])})
        for budget in budgets:
            fits = {lab: c[4] for lab, c in cands.items() if mean_flops[lab] <= budget * (1 + 1e-9)}
            seq = {lab: v for lab, v in fits.items() if cands[lab][0] == SEQUENTIAL}
            par = {lab: v for lab, v in fits.items() if cands[lab][0] == PARALLEL}
            for scheme, labels in schemes.items():
                opt = compute_optimal(fits, labels, fold, counts, conf)
                s_opt = compute_optimal(seq, labels, fold, counts, conf)
                p_opt = compute_optimal(par, labels, fold, counts, conf) if par else None
                for b in ["all", *bin_order(scheme, labels)] if scheme != "all" else ["all"]:
                    idx = np.ones(len(pids), bool) if b == "all" else labels == b
                    o = float(opt["per_problem"][idx].mean())
                    p = float(p_opt["per_problem"][idx].mean()) if p_opt else np.nan
                    lo = hi = np.nan
                    if p_opt:
                        diff = (opt["per_problem"] - p_opt["per_problem"])[idx, None]
                        c = resample_counts(int(idx.sum()), B, rng_for(seed, "sequential-bin", model, dataset, scheme,
                                                                       b, budget))
                        lo, hi = interval(boot_means(diff, c)[:, 0], conf)
                    rows.append({
                        "model": model, "dataset": dataset, "scheme": scheme, "bin": b, "flops_budget": budget,
                        "n_problems": int(idx.sum()), "optimal": o,
                        "sequential": float(s_opt["per_problem"][idx].mean()), "parallel": p,
                        "gain_over_parallel": o - p, "gain_lo": float(lo), "gain_hi": float(hi),
                        "choices": json.dumps(opt["choices"].get(b) if b != "all" else opt["choices"], sort_keys=True),
                        "candidates": len(fits)})
    points.sort(key=lambda r: (r["dataset"], r["model"], r["scheme"], r["bin"], r["family"], r["sampling"], r["k"]))
    rows.sort(key=lambda r: (r["dataset"], r["model"], r["scheme"], r["bin"], r["flops_budget"]))
    return pa.Table.from_pylist(points, schema=POINTS), pa.Table.from_pylist(rows, schema=OPTIMAL)


def _points(cands: dict[str, tuple[str, dict[str, Any], str, int, np.ndarray, np.ndarray]],
            thinking: dict[str, np.ndarray], idx: np.ndarray, model: str, dataset: str, scheme: str, b: str,
            B: int, conf: float, seed: int) -> list[dict[str, Any]]:
    """Per run and k: its best selector in the bin, with a bootstrap interval."""
    out = []
    groups: dict[tuple[str, int], list[str]] = {}
    for lab, c in cands.items():
        groups.setdefault((c[1]["sampling"], c[3]), []).append(lab)
    for (sampling, k), labs in sorted(groups.items()):
        best = sorted(labs, key=lambda lab: (-round(float(np.nanmean(cands[lab][4][idx])), 9), lab))[0]
        family, run, sel, _, val, fl = cands[best]
        c = resample_counts(int(idx.sum()), B, rng_for(seed, "sequential-points", model, dataset, scheme, b,
                                                         sampling, k))
        lo, hi = interval(boot_means(val[idx, None], c)[:, 0], conf)
        th = thinking[sampling][idx]
        out.append({"model": model, "dataset": dataset, "scheme": scheme, "bin": b, "family": family,
                    "sampling": sampling, "thinking_budget": int(run["thinking_budget"]) if run.get("thinking_budget")
                    else None, "k": int(k), "selector": sel, "value": float(np.nanmean(val[idx])),
                    "ci_lo": float(lo), "ci_hi": float(hi),
                    "thinking_tokens": float(np.nanmean(th)) if np.isfinite(th).any() else np.nan,
                    "flops": float(np.nanmean(fl[idx])) if np.isfinite(fl[idx]).any() else np.nan,
                    "n_problems": int(idx.sum())})
    return out


__all__ = ["OPTIMAL", "POINTS", "sequential_tables", "write_sequential"]


def write_sequential(runs: Sequence[dict[str, Any]], outputs: dict[str, str], settings: dict[str, Any] | None,
                     seed: int = 0) -> dict[str, Any]:
    """The `sequential` stage: both tables from the runs' files (see sequential_tables)."""
    from ttscale.analysis.settings import analysis_settings
    from ttscale.io import write_table

    st = analysis_settings(settings)
    seed = st["seed"] if st.get("seed") is not None else seed
    points, optimal = sequential_tables(runs, st, seed)
    write_table(outputs["points"], points, POINTS, metadata={"runs": len(runs)})
    write_table(outputs["optimal"], optimal, OPTIMAL, metadata={"runs": len(runs)})
    log.info("sequential vs parallel: %d points, %d optimal rows from %d runs", points.num_rows, optimal.num_rows,
             len(runs))
    return {"points": points.num_rows, "optimal": optimal.num_rows}
