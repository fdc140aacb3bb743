"""Analysis of one run (model x dataset x sampling): every curve over k with bootstrap intervals, per
difficulty bin, the scaling-law fits, the honest extrapolation check, cost and the compute-optimal
strategy per bin.

Outputs (all Parquet, long format, see docs/analysis.md):
- values: per problem, selector and k: the expected accuracy (coverage for `oracle`), its Monte
  Carlo standard error (0 when exact) and the cost of k samples. Later stages (compute-matched
  comparisons, strategies of the search stage) combine per-problem values.
- curves: metric, model, dataset, sampling, selector, scheme, bin, k, value, ci_lo, ci_hi, mc_se,
  n_problems, flops, dollars.
- fits, extrapolation, optimal: one row per fit, per held-out k and per (scheme, budget).
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ttscale.analysis.cost import check_prices, cost_at, model_dims, nanmean_rows, problem_costs
from ttscale.analysis.data import RunData, load_run, selector_names
from ttscale.analysis.difficulty import bin_order, bin_schemes, compute_optimal, two_folds
from ttscale.analysis.estimators import best_of_k, vote_at_1, vote_at_n, vote_exact, vote_exact_cost, vote_mc
from ttscale.analysis.fits import band, beta_pass_at_k, fit_beta, fit_power_law, power_law
from ttscale.analysis.passk import pass_at_k_matrix
from ttscale.analysis.selectors import ORACLE, kind, score_of
from ttscale.analysis.settings import analysis_settings
from ttscale.analysis.stats import boot_means, dense_grid, interval, k_grid, resample_counts, rng_for
from ttscale.io import write_table

log = logging.getLogger(__name__)


CURVES = pa.schema([
    ("metric", pa.string()), ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()),
    ("selector", pa.string()), ("scheme", pa.string()), ("bin", pa.string()), ("k", pa.float64()),
    ("value", pa.float64()), ("ci_lo", pa.float64()), ("ci_hi", pa.float64()), ("mc_se", pa.float64()),
    ("n_problems", pa.int64()), ("flops", pa.float64()), ("dollars", pa.float64()),
])

VALUES = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("selector", pa.string()),
    ("k", pa.int64()), ("problem_id", pa.string()), ("value", pa.float64()), ("mc_se", pa.float64()),
    ("flops", pa.float64()), ("dollars", pa.float64()),
])

COSTS = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("problem_id", pa.string()),
    ("level", pa.string()), ("n", pa.int64()), ("n_correct", pa.int64()), ("prompt_tokens", pa.float64()),
    ("completion_tokens", pa.float64()), ("prompt_flops", pa.float64()), ("decode_flops", pa.float64()),
    ("prompt_dollars", pa.float64()), ("decode_dollars", pa.float64()),
    # for comparing strategies at equal compute: every token a search sent and generated (NaN for
    # repeated sampling), and the FLOPs per token processed (2 x parameters)
    ("search_tokens", pa.float64()), ("flops_per_token", pa.float64()),
])

FITS = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("fit_on", pa.string()),
    ("m", pa.int64()), ("n", pa.int64()), ("n_problems", pa.int64()),
    ("a", pa.float64()), ("a_lo", pa.float64()), ("a_hi", pa.float64()),
    ("b", pa.float64()), ("b_lo", pa.float64()), ("b_hi", pa.float64()),
    ("r2", pa.float64()), ("rmse", pa.float64()), ("n_points", pa.int64()),
    ("alpha", pa.float64()), ("alpha_lo", pa.float64()), ("alpha_hi", pa.float64()),
    ("beta", pa.float64()), ("beta_lo", pa.float64()), ("beta_hi", pa.float64()),
    ("beta_rmse", pa.float64()), ("note", pa.string()),
])

EXTRAPOLATION = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("predictor", pa.string()),
    ("m", pa.int64()), ("n", pa.int64()), ("k", pa.int64()), ("observed", pa.float64()),
    ("observed_lo", pa.float64()), ("observed_hi", pa.float64()), ("predicted", pa.float64()),
    ("error", pa.float64()),
])

OPTIMAL = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("scheme", pa.string()),
    ("k", pa.int64()), ("per_bin", pa.float64()), ("single", pa.float64()), ("gain", pa.float64()),
    ("gain_lo", pa.float64()), ("gain_hi", pa.float64()), ("choices", pa.string()),
    ("single_choice", pa.string()), ("in_sample", pa.string()), ("strategies", pa.int64()),
])


def selector_values(data: RunData, ks: np.ndarray, settings: dict[str, Any], rng: np.random.Generator,
                    threads: int = 1) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """selector -> (per-problem expected accuracy P x K, Monte Carlo standard error P x K).

    The best-of-k selectors and the vote Monte Carlo are independent and spend their time in numpy
    (which releases the GIL), so with `threads` > 1 they run side by side.
    """
    P, n = data.correct.shape
    zeros = np.zeros((P, len(ks)))
    out = {ORACLE: (pass_at_k_matrix(np.full(P, n), data.n_correct, ks), zeros)}
    names = selector_names(data, settings["selectors"], settings["exclude_selectors"])
    votes = []
    for nm in names:
        # NaN (unscored) passes: it weighs 0 in the vote (estimators.vote_weights)
        if kind(nm) == "wvote" and np.nanmin(data.scores[score_of(nm)]) < 0:
            log.warning("%s: scores below 0 cannot weight a vote; %s left out", data.dataset, nm)
        elif kind(nm) in ("vote", "wvote"):
            votes.append(nm)
    best = [nm for nm in names if kind(nm) == "best"]
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        vote_job = pool.submit(_votes, data, ks, settings["vote"], rng, votes) if votes else None
        jobs = {nm: pool.submit(best_of_k, data.scores[score_of(nm)], data.correct, ks) for nm in best}
        for nm in best:
            out[nm] = (jobs[nm].result(), zeros)
        if vote_job is not None:
            out.update(vote_job.result())
    return {nm: out[nm] for nm in [ORACLE, *names] if nm in out}


def _votes(data: RunData, ks: np.ndarray, vs: dict[str, Any], rng: np.random.Generator,
           votes: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    P, n = data.correct.shape
    exact: dict[int, np.ndarray] = {}
    if "vote" in votes:
        kmax = int(ks.max())
        cost = np.array([vote_exact_cost(data.group_sizes[i], data.group_corr[i], kmax) for i in range(P)])
        spent = 0.0
        for i in np.argsort(cost, kind="stable"):  # cheapest first, within the per-run budget
            if cost[i] > vs["exact_max_cost"] or spent + cost[i] > vs["exact_total_cost"]:
                break
            spent += cost[i]
            exact[int(i)] = vote_exact(data.group_sizes[i], data.group_corr[i], n, ks)
    mc_names = [nm for nm in votes if nm != "vote" or len(exact) < P]
    results: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if mc_names:
        draws = int(np.clip(vs["draw_budget"] // max(P * n, 1), vs["min_draws"], vs["max_draws"]))
        weights = [_weights(data, nm) for nm in mc_names]
        for nm, res in zip(mc_names, vote_mc(data.labels, data.group_corr, ks, weights, draws, rng), strict=True):
            results[nm] = res
        log.info("vote: exact for %d of %d problems; Monte Carlo with %d draws for %s", len(exact), P, draws,
                 ", ".join(mc_names))
    out = {}
    at1 = vote_at_1(data.labels, data.group_corr)
    for nm in votes:
        mean, se = results.get(nm, (np.zeros((P, len(ks))), np.zeros((P, len(ks)))))
        mean, se = mean.copy(), se.copy()
        # k = 1 and k = n have closed forms; use them instead of the Monte Carlo values
        one = ks == 1
        mean[:, one], se[:, one] = at1[:, None], 0.0
        full = ks == n
        mean[:, full] = vote_at_n(data.labels, data.group_corr, _weights(data, nm))[:, None]
        se[:, full] = 0.0
        if nm == "vote":
            for i, v in exact.items():
                mean[i], se[i] = v, 0.0
        out[nm] = (mean, se)
    return out


def _weights(data: RunData, name: str) -> np.ndarray | None:
    """A vote's weights: none for the plain vote, the named score for a weighted one."""
    score = score_of(name)
    return None if score is None else data.scores[score]


def difficulty_schemes(data: RunData, settings: dict[str, Any]) -> dict[str, np.ndarray]:
    bins = settings["bins"]
    schemes = bin_schemes(data.n_correct / data.n, bins)
    distinct = {lv for lv in data.levels if lv is not None}
    # a dataset's own levels are a scheme when they are few (MATH's 1-5), not per-problem metadata
    if bins.get("levels", True) and 2 <= len(distinct) <= bins["max_levels"] and len(distinct) < data.n_problems:
        schemes["level"] = np.array([str(lv) if lv is not None else "none" for lv in data.levels], dtype=object)
    return schemes


def analyze_run(
    samples: str | Path,
    problems: str | Path,
    outputs: dict[str, str | Path],
    settings: dict[str, Any] | None = None,
    model_spec: dict[str, Any] | None = None,
    seed: int = 0,
    root: Path | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Analyze one run's aggregated tables and write its tables (`outputs`: values, curves, costs,
    fits, extrapolation, optimal)."""
    start = time.time()
    st = analysis_settings(settings)
    seed = st["seed"] if st.get("seed") is not None else seed
    data = load_run(samples, problems)
    ident = {"model": data.model, "dataset": data.dataset, "sampling": data.sampling}
    P, n = data.correct.shape
    ks = k_grid(n, st["grid_base"], st["ks"])
    vals = selector_values(data, ks, st, rng_for(seed, "vote", data.model, data.dataset, data.sampling), threads)
    log.info("%s/%s/%s: %d problems x %d samples, %d ks, selectors %s", data.model, data.dataset, data.sampling,
             P, n, len(ks), ", ".join(vals))

    spec = model_spec or {}
    dims = model_dims(data.model, spec, root)
    costs = problem_costs(data.prompt_tokens, data.completion_tokens, dims, check_prices(data.model, spec))
    once = st["cost"]["prompt_once"]
    flops_k = cost_at(costs["prompt_flops"], costs["decode_flops"], ks, once)
    dollars_k = cost_at(costs["prompt_dollars"], costs["decode_dollars"], ks, once)

    # per-problem values
    sel_names = list(vals)
    K = len(ks)
    pid = np.array(data.problem_ids, dtype=object)
    values_table = pa.table({
        **{c: [v] * (len(sel_names) * K * P) for c, v in ident.items()},
        "selector": np.repeat(np.array(sel_names, dtype=object), K * P),
        "k": np.tile(np.repeat(ks, P), len(sel_names)),
        "problem_id": np.tile(pid, len(sel_names) * K),
        "value": np.concatenate([vals[s][0].T.ravel() for s in sel_names]),
        "mc_se": np.concatenate([vals[s][1].T.ravel() for s in sel_names]),
        "flops": np.tile(flops_k.T.ravel(), len(sel_names)),
        "dollars": np.tile(dollars_k.T.ravel(), len(sel_names)),
    }, schema=VALUES)

    # curves per difficulty scheme and bin, with paired bootstrap intervals
    schemes = difficulty_schemes(data, st)
    B, conf = st["bootstrap"], st["confidence"]
    rows: list[dict[str, Any]] = []
    boot_all: np.ndarray | None = None
    for scheme, labels in schemes.items():
        for b in bin_order(scheme, labels):
            idx = np.flatnonzero(labels == b)
            counts = resample_counts(len(idx), B, rng_for(seed, "bootstrap", data.model, data.dataset,
                                                          data.sampling, scheme, b))
            fl, do = nanmean_rows(flops_k[idx], axis=0), nanmean_rows(dollars_k[idx], axis=0)  # NaN: unknown
            stacked = np.concatenate([vals[s][0][idx] for s in sel_names], axis=1)  # one matmul for all
            boot = boot_means(stacked, counts)
            lo_all, hi_all = interval(boot, conf)
            for si, s in enumerate(sel_names):
                cols = slice(si * K, (si + 1) * K)
                lo, hi = lo_all[cols], hi_all[cols]
                mean = stacked[:, cols].mean(axis=0)
                mc = np.sqrt((vals[s][1][idx] ** 2).sum(axis=0)) / len(idx)
                if scheme == "all" and s == ORACLE:
                    boot_all = boot[:, cols]
                for j, k in enumerate(ks):
                    rows.append({"metric": "coverage" if s == ORACLE else "accuracy", **ident, "selector": s,
                                 "scheme": scheme, "bin": b, "k": float(k), "value": mean[j], "ci_lo": lo[j],
                                 "ci_hi": hi[j], "mc_se": mc[j], "n_problems": len(idx), "flops": fl[j],
                                 "dollars": do[j]})

    curves_done = time.time()  # load, every selector's values and their intervals per bin
    # scaling laws on the whole set, and the honest extrapolation check
    fits_rows, extra_rows = [], []
    coverage = vals[ORACLE][0].mean(axis=0)
    fs = st["fit"]
    reps = boot_all[: fs["bootstrap"]] if boot_all is not None else None
    pl = fit_power_law(ks, coverage, reps, conf, fs["min_points"])
    fit_counts = resample_counts(P, fs["bootstrap"], rng_for(seed, "beta", data.model, data.dataset, data.sampling))
    bt = fit_beta(data.n_correct, np.full(P, n), fit_counts, conf)
    beta_rmse = _rmse(beta_pass_at_k(bt["alpha"], bt["beta"], ks), coverage) if bt["ok"] else np.nan
    fits_rows.append(_fit_row(ident, "all", n, n, P, pl, bt, beta_rmse))
    grid = dense_grid(float(n))
    for name, (mid, lo, hi) in {"power_law": band(pl, grid, conf)}.items():
        rows += _line_rows("coverage_fit", ident, name, grid, mid, lo, hi, P)
    if bt["ok"]:
        rows += _line_rows("coverage_fit", ident, "beta", grid, beta_pass_at_k(bt["alpha"], bt["beta"], grid),
                           *_beta_band(bt, grid, conf), P)

    m = max(1, int(n * fs["holdout"]))
    if m < n:
        sub = data.subset(m)
        sub_ks = k_grid(m, st["grid_base"])
        sub_cov = pass_at_k_matrix(np.full(P, m), sub.n_correct, sub_ks)
        sub_counts = resample_counts(P, fs["bootstrap"],
                                     rng_for(seed, "holdout", data.model, data.dataset, data.sampling))
        pl_h = fit_power_law(sub_ks, sub_cov.mean(axis=0), boot_means(sub_cov, sub_counts), conf, fs["min_points"])
        bt_h = fit_beta(sub.n_correct, np.full(P, m), sub_counts, conf)
        held = ks[ks > m]
        obs = {r["k"]: r for r in rows if r["metric"] == "coverage" and r["scheme"] == "all"}
        preds = {"power_law": power_law(held, pl_h["a"], pl_h["b"]) if pl_h["ok"] else np.full(len(held), np.nan),
                 "beta": beta_pass_at_k(bt_h["alpha"], bt_h["beta"], held) if bt_h["ok"]
                 else np.full(len(held), np.nan)}
        for predictor, pred in preds.items():
            for k, p in zip(held, pred, strict=True):
                o = obs[float(k)]
                extra_rows.append({**ident, "predictor": predictor, "m": m, "n": n, "k": int(k), "observed": o["value"],
                                   "observed_lo": o["ci_lo"], "observed_hi": o["ci_hi"], "predicted": float(p),
                                   "error": float(p - o["value"])})
        hold_rmse = _rmse(beta_pass_at_k(bt_h["alpha"], bt_h["beta"], sub_ks), sub_cov.mean(axis=0)) if bt_h["ok"] \
            else np.nan
        fits_rows.append(_fit_row(ident, "holdout", m, n, P, pl_h, bt_h, hold_rmse))
        rows += _line_rows("coverage_extrapolated", ident, "power_law", grid, *band(pl_h, grid, conf), P)
        if bt_h["ok"]:
            rows += _line_rows("coverage_extrapolated", ident, "beta", grid,
                               beta_pass_at_k(bt_h["alpha"], bt_h["beta"], grid), *_beta_band(bt_h, grid, conf), P)

    # compute-optimal strategy per bin, two-fold cross-validated
    opt_rows = []
    strategies = [s for s in sel_names if s != ORACLE]
    budgets = ks if st["budgets"] is None else np.array([k for k in st["budgets"] if k in set(ks.tolist())], np.int64)
    if len(strategies) >= 1 and P >= 2:
        fold = two_folds(P, rng_for(seed, "folds", data.model, data.dataset, data.sampling))
        counts = resample_counts(P, B, rng_for(seed, "optimal", data.model, data.dataset, data.sampling))
        for scheme, labels in schemes.items():
            if scheme == "all":
                continue
            for k in budgets:
                j = int(np.flatnonzero(ks == k)[0])
                res = compute_optimal({s: vals[s][0][:, j] for s in strategies}, labels, fold, counts, conf)
                opt_rows.append({**ident, "scheme": scheme, "k": int(k), "per_bin": res["per_bin"],
                                 "single": res["single"], "gain": res["gain"], "gain_lo": res["gain_lo"],
                                 "gain_hi": res["gain_hi"], "choices": json.dumps(res["choices"], sort_keys=True),
                                 "single_choice": json.dumps(res["single_choice"]),
                                 "in_sample": json.dumps(res["in_sample"], sort_keys=True),
                                 "strategies": len(strategies)})

    costs_table = pa.table({
        **{c: [v] * P for c, v in ident.items()}, "problem_id": data.problem_ids, "level": data.levels,
        "n": np.full(P, n), "n_correct": data.n_correct, **costs,
        "search_tokens": data.search_tokens if data.search_tokens is not None else np.full(P, np.nan),
        "flops_per_token": np.full(P, 2.0 * float(dims["n_params"]) if dims.get("ok") else np.nan)},
        schema=COSTS)
    meta = {**ident, "n": n, "problems": P, "ks": ks.tolist(), "selectors": sel_names, "dims": dims,
            "settings": st, "seed": seed}
    write_table(outputs["values"], values_table, VALUES, metadata=meta)
    write_table(outputs["costs"], costs_table, COSTS, metadata=meta)
    write_table(outputs["curves"], pa.Table.from_pylist(rows, schema=CURVES), CURVES, metadata=meta)
    write_table(outputs["fits"], pa.Table.from_pylist(fits_rows, schema=FITS), FITS, metadata=meta)
    write_table(outputs["extrapolation"], pa.Table.from_pylist(extra_rows, schema=EXTRAPOLATION), EXTRAPOLATION,
                metadata=meta)
    write_table(outputs["optimal"], pa.Table.from_pylist(opt_rows, schema=OPTIMAL), OPTIMAL, metadata=meta)
    seconds = time.time() - start
    log.info("analyzed %s/%s/%s in %.1fs: coverage@%d = %.3f, fit a=%.3g b=%.3g", data.model, data.dataset,
             data.sampling, seconds, n, coverage[-1], pl["a"], pl["b"])
    return {**ident, "problems": P, "n": n, "ks": len(ks), "selectors": sel_names, "seconds": round(seconds, 3),
            "curves_seconds": round(curves_done - start, 3)}


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def _fit_row(ident: dict[str, str], fit_on: str, m: int, n: int, P: int, pl: dict[str, Any], bt: dict[str, Any],
             beta_rmse: float) -> dict[str, Any]:
    notes = [x for x in (pl.get("note"), bt.get("note")) if x]
    return {**ident, "fit_on": fit_on, "m": m, "n": n, "n_problems": P,
            **{k: pl[k] for k in ("a", "a_lo", "a_hi", "b", "b_lo", "b_hi", "r2", "rmse", "n_points")},
            **{k: bt[k] for k in ("alpha", "alpha_lo", "alpha_hi", "beta", "beta_lo", "beta_hi")},
            "beta_rmse": beta_rmse, "note": "; ".join(notes)}


def _beta_band(bt: dict[str, Any], grid: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray]:
    reps = bt.get("replicate_params")
    if reps is None:
        return np.full(len(grid), np.nan), np.full(len(grid), np.nan)
    curves = np.array([beta_pass_at_k(a, b, grid) for a, b in reps])
    return interval(curves, conf)


def _line_rows(metric: str, ident: dict[str, str], selector: str, k: np.ndarray, mid: np.ndarray,
               lo: np.ndarray, hi: np.ndarray, P: int) -> list[dict[str, Any]]:
    return [{"metric": metric, **ident, "selector": selector, "scheme": "all", "bin": "all", "k": float(kk),
             "value": float(v), "ci_lo": float(a), "ci_hi": float(b), "mc_se": 0.0, "n_problems": P,
             "flops": np.nan, "dollars": np.nan} for kk, v, a, b in zip(k, mid, lo, hi, strict=True)]
