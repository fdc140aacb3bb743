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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ttscale.analysis.adaptive import coverage_values, estimable_k
from ttscale.analysis.cost import (
    check_prices,
    cost_at,
    forward_flops,
    model_dims,
    nanmean_rows,
    problem_costs,
    scorer_costs,
    search_scored_tokens,
)
from ttscale.analysis.data import RunData, load_run, selector_names
from ttscale.analysis.difficulty import bin_order, bin_schemes, compute_optimal, two_folds
from ttscale.analysis.estimators import best_of_k, vote_at_1, vote_at_n, vote_exact, vote_exact_cost, vote_mc
from ttscale.analysis.fits import band, beta_pass_at_k, fit_beta, fit_power_law, power_law
from ttscale.analysis.passk import pass_at_k_matrix
from ttscale.analysis.rounds import round_successes
from ttscale.analysis.selectors import ORACLE, kind, score_of, scorer_of
from ttscale.analysis.settings import analysis_settings
from ttscale.analysis.stats import boot_means, dense_grid, interval, k_grid, resample_counts, rng_for
from ttscale.analysis.tables import COSTS, CURVES, EXTRAPOLATION, FITS, OPTIMAL, VALUES
from ttscale.analysis.thinking import run_costs
from ttscale.io import write_table

log = logging.getLogger(__name__)


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


@dataclass
class RunContext:
    """What every table of a run is built from: its data, settings, k grid, every selector's
    per-problem values and per-problem costs at each k."""

    data: RunData
    st: dict[str, Any]
    seed: int
    ks: np.ndarray
    vals: dict[str, tuple[np.ndarray, np.ndarray]]
    dims: dict[str, Any]
    costs: dict[str, np.ndarray]
    flops_k: np.ndarray
    dollars_k: np.ndarray
    schemes: dict[str, np.ndarray]
    extra: dict[str, Any] | None = None  # the costs table's scorer, search and thinking columns
    # adaptive runs: the schedule, per-problem totals (n, correct) and what is estimable at which k
    adaptive: dict[str, Any] | None = None

    @property
    def ident(self) -> dict[str, str]:
        return {"model": self.data.model, "dataset": self.data.dataset, "sampling": self.data.sampling}

    def selector_flops(self, selector: str) -> np.ndarray:
        """FLOPs of k samples per problem (P x K) as the selector spends them: the sampling model's,
        plus k answers scored by the model-based scorer it reads (`best:orm`, `wvote:prm:last`; the
        costs table's `scorer_flops`): a best-of-N with a 7B reward model is not free. Coverage,
        votes and model-free scores (log-probabilities) cost the sampling alone."""
        scorer = scorer_of(selector)
        per_problem = [m.get(scorer) for m in (self.extra or {}).get("scorer_flops") or []] if scorer else []
        if not any(v is not None for v in per_problem):
            return self.flops_k
        per_sample = np.array([np.nan if v is None else v for v in per_problem], np.float64)
        return self.flops_k + per_sample[:, None] * np.asarray(self.ks, np.float64)[None, :]

    def rng(self, tag: str, *more: Any) -> np.random.Generator:
        """The generator of one random draw: seeded by its tag, the run and `more` (scheme, bin)."""
        return rng_for(self.seed, tag, self.data.model, self.data.dataset, self.data.sampling, *more)


def analyze_run(
    samples: str | Path,
    problems: str | Path,
    outputs: dict[str, str | Path],
    settings: dict[str, Any] | None = None,
    model_spec: dict[str, Any] | None = None,
    seed: int = 0,
    root: Path | None = None,
    threads: int = 1,
    scorers: dict[str, dict[str, Any]] | None = None,
    step_scorer: dict[str, Any] | None = None,
    search_shards: list[str] | None = None,
    adaptive: dict[str, Any] | None = None,
    budget: int | None = None,
) -> dict[str, Any]:
    """Analyze one run's aggregated tables and write its tables (`outputs`: values, curves, costs,
    fits, extrapolation, optimal), one builder each.

    `scorers`: the model-based scorers that score the run, name -> what the cost model reads of their
    model (ttscale.keys.scorer_cost_spec); `step_scorer`: a search's step scorer, {name, spec}, and
    `search_shards` its sample shards (where the search's scored tokens are): the costs table's
    scorer and search columns; `budget`: the budget of a search run that spans several, whose rows
    of those shards count (the aggregate is that budget's alone: ttscale.aggregate.split_budgets).

    `adaptive` ({"ends": the rounds' cumulative counts}) marks a run sampled in rounds: coverage then
    comes from the estimator valid under the allocation rule (ttscale.analysis.adaptive) at every k
    up to the fewest samples of an unsolved problem, the selectors from the first round (k up to its
    size), which every problem got whatever its outcomes; k beyond those has no row."""
    start = time.time()
    ctx = run_context(samples, problems, settings, model_spec, seed, root, threads, adaptive)
    ctx.extra = extra_costs(ctx, samples, model_spec or {}, root, scorers or {}, step_scorer, search_shards or [],
                            budget)
    if ((model_spec or {}).get("price") or {}).get("thinking_per_mtok") is not None and \
            not np.isnan(ctx.extra["thinking_dollars"]).all():
        # an API that bills thinking apart: a completion costs its thinking at that price, its answer at
        # the output price (where the split is unknown, the output price for all of it)
        split = ctx.extra["thinking_dollars"] + ctx.extra["answer_dollars"]
        ctx.costs["decode_dollars"] = np.where(np.isnan(split), ctx.costs["decode_dollars"], split)
        ctx.dollars_k = cost_at(ctx.costs["prompt_dollars"], ctx.costs["decode_dollars"], ctx.ks,
                                ctx.st["cost"]["prompt_once"])
    data, ident = ctx.data, ctx.ident
    P, n = data.correct.shape
    rows, boot_all = curve_rows(ctx)
    curves_done = time.time()  # load, every selector's values and their intervals per bin
    # scaling laws on the whole set, and the honest extrapolation check
    fit_all, fit_curves, pl, coverage = whole_set_fits(ctx, boot_all)
    observed = {r["k"]: r for r in rows if r["metric"] == "coverage" and r["scheme"] == "all"}
    fit_held, extra_rows, held_curves = holdout_check(ctx, observed)
    rows += fit_curves + held_curves
    fits_rows = [fit_all, *([fit_held] if fit_held else [])]
    sel_names = list(ctx.vals)
    if ctx.adaptive is not None:
        n = int(ctx.adaptive["ends"][-1])
    meta = {**ident, "n": n, "problems": P, "ks": ctx.ks.tolist(), "selectors": sel_names, "dims": ctx.dims,
            "settings": ctx.st, "seed": ctx.seed}
    if ctx.adaptive is not None:
        meta["adaptive"] = {k: ctx.adaptive[k] for k in ("ends", "coverage_max_k", "selectors_max_k", "samples")}
    write_table(outputs["values"], values_table(ctx), VALUES, metadata=meta)
    write_table(outputs["costs"], costs_table(ctx), COSTS, metadata=meta)
    write_table(outputs["curves"], pa.Table.from_pylist(rows, schema=CURVES), CURVES, metadata=meta)
    write_table(outputs["fits"], pa.Table.from_pylist(fits_rows, schema=FITS), FITS, metadata=meta)
    write_table(outputs["extrapolation"], pa.Table.from_pylist(extra_rows, schema=EXTRAPOLATION), EXTRAPOLATION,
                metadata=meta)
    write_table(outputs["optimal"], pa.Table.from_pylist(optimal_rows(ctx), schema=OPTIMAL), OPTIMAL, metadata=meta)
    seconds = time.time() - start
    log.info("analyzed %s/%s/%s in %.1fs: coverage@%d = %.3f, fit a=%.3g b=%.3g", data.model, data.dataset,
             data.sampling, seconds, n, coverage[np.isfinite(coverage)][-1], pl["a"], pl["b"])
    return {**ident, "problems": P, "n": n, "ks": len(ctx.ks), "selectors": sel_names, "seconds": round(seconds, 3),
            "curves_seconds": round(curves_done - start, 3)}


def run_context(samples: str | Path, problems: str | Path, settings: dict[str, Any] | None,
                model_spec: dict[str, Any] | None, seed: int, root: Path | None, threads: int,
                adaptive: dict[str, Any] | None = None) -> RunContext:
    """Load the run, compute every selector's values and the per-problem costs."""
    st = analysis_settings(settings)
    seed = st["seed"] if st.get("seed") is not None else seed
    ends = None if adaptive is None else np.asarray(adaptive["ends"], np.int64)
    data = load_run(samples, problems, first=None if ends is None else int(ends[0]))
    P, n = data.correct.shape
    ks = k_grid(n if ends is None else int(ends[-1]), st["grid_base"], st["ks"])
    vote_rng = rng_for(seed, "vote", data.model, data.dataset, data.sampling)
    ad = None
    if ends is None:
        vals = selector_values(data, ks, st, vote_rng, threads)
    else:
        vals, ad = adaptive_values(samples, data, ends, ks, st, vote_rng, threads)
    log.info("%s/%s/%s: %d problems x %d samples, %d ks, selectors %s", data.model, data.dataset, data.sampling,
             P, n, len(ks), ", ".join(vals))
    spec = model_spec or {}
    dims = model_dims(data.model, spec, root)
    costs = problem_costs(data.prompt_tokens, data.completion_tokens, dims, check_prices(data.model, spec))
    once = st["cost"]["prompt_once"]
    flops_k = cost_at(costs["prompt_flops"], costs["decode_flops"], ks, once)
    dollars_k = cost_at(costs["prompt_dollars"], costs["decode_dollars"], ks, once)
    return RunContext(data, st, seed, ks, vals, dims, costs, flops_k, dollars_k, difficulty_schemes(data, st),
                      adaptive=ad)


def adaptive_values(samples: str | Path, data: RunData, ends: np.ndarray, ks: np.ndarray, st: dict[str, Any],
                    rng: np.random.Generator, threads: int
                    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, Any]]:
    """Every selector's values for a run sampled in rounds (NaN where k is not estimable): coverage
    by the estimator valid under the allocation rule, the others from the first round."""
    first = int(ends[0])
    low = ks <= first
    vals = selector_values(data, ks[low], st, rng, threads)
    out = {}
    for name, (v, se) in vals.items():
        full_v = np.full((v.shape[0], len(ks)), np.nan)
        full_se = np.zeros_like(full_v)
        full_v[:, low], full_se[:, low] = v, se
        out[name] = (full_v, full_se)
    t = pq.read_table(samples, columns=["problem_id", "sample_index", "correct"])
    rounds, succ = round_successes(ends, data.problem_ids, t["problem_id"].to_pylist(),
                                   t["sample_index"].to_numpy(), t["correct"].fill_null(False).to_numpy(
                                       zero_copy_only=False))
    reach = estimable_k(ends, rounds, succ)
    cov = coverage_values(ends, rounds, succ, ks)
    out[ORACLE] = (cov, np.zeros_like(cov))
    n_total = ends[rounds - 1]
    info = {"ends": ends.tolist(), "coverage_max_k": int(reach), "selectors_max_k": first,
            "samples": int(n_total.sum()), "n": n_total, "correct": succ.sum(axis=1)}
    log.info("%s/%s/%s: adaptive, rounds ending at %s, %d samples (uniform: %d); coverage estimable for k <= %d, "
             "selectors for k <= %d (the first round)", data.model, data.dataset, data.sampling, ends.tolist(),
             info["samples"], len(n_total) * int(ends[-1]), reach, first)
    return out, info


def values_table(ctx: RunContext) -> pa.Table:
    """Per problem, selector and k: the expected accuracy, its Monte Carlo error and the cost."""
    P = ctx.data.correct.shape[0]
    sel_names = list(ctx.vals)
    K = len(ctx.ks)
    pid = np.array(ctx.data.problem_ids, dtype=object)
    table = pa.table({
        **{c: [v] * (len(sel_names) * K * P) for c, v in ctx.ident.items()},
        "selector": np.repeat(np.array(sel_names, dtype=object), K * P),
        "k": np.tile(np.repeat(ctx.ks, P), len(sel_names)),
        "problem_id": np.tile(pid, len(sel_names) * K),
        "value": np.concatenate([ctx.vals[s][0].T.ravel() for s in sel_names]),
        "mc_se": np.concatenate([ctx.vals[s][1].T.ravel() for s in sel_names]),
        "flops": np.concatenate([ctx.selector_flops(s).T.ravel() for s in sel_names]),
        "dollars": np.tile(ctx.dollars_k.T.ravel(), len(sel_names)),
    }, schema=VALUES)
    if ctx.adaptive is None:
        return table
    value = np.concatenate([ctx.vals[s][0].T.ravel() for s in sel_names])
    return table.filter(pa.array(np.isfinite(value)))  # not estimable under the samples drawn


def curve_rows(ctx: RunContext) -> tuple[list[dict[str, Any]], np.ndarray | None]:
    """Curves per difficulty scheme and bin, with paired bootstrap intervals; also the bootstrap
    replicates of coverage on the whole set (the fits' intervals)."""
    ks, vals, ident = ctx.ks, ctx.vals, ctx.ident
    sel_names = list(vals)
    K = len(ks)
    B, conf = ctx.st["bootstrap"], ctx.st["confidence"]
    rows: list[dict[str, Any]] = []
    boot_all: np.ndarray | None = None
    sel_flops = {s: ctx.selector_flops(s) for s in sel_names}  # P x K each, with the scorer it reads
    for scheme, labels in ctx.schemes.items():
        for b in bin_order(scheme, labels):
            idx = np.flatnonzero(labels == b)
            counts = resample_counts(len(idx), B, ctx.rng("bootstrap", scheme, b))
            do = nanmean_rows(ctx.dollars_k[idx], axis=0)  # NaN: unknown
            stacked = np.concatenate([vals[s][0][idx] for s in sel_names], axis=1)  # one matmul for all
            boot = boot_means(stacked, counts)
            lo_all, hi_all = interval(boot, conf)
            for si, s in enumerate(sel_names):
                fl = nanmean_rows(sel_flops[s][idx], axis=0)
                cols = slice(si * K, (si + 1) * K)
                lo, hi = lo_all[cols], hi_all[cols]
                mean = stacked[:, cols].mean(axis=0)
                mc = np.sqrt((vals[s][1][idx] ** 2).sum(axis=0)) / len(idx)
                if scheme == "all" and s == ORACLE:
                    boot_all = boot[:, cols]
                for j, k in enumerate(ks):
                    if not np.isfinite(mean[j]):  # not estimable under an adaptive run's samples
                        continue
                    rows.append({"metric": "coverage" if s == ORACLE else "accuracy", **ident, "selector": s,
                                 "scheme": scheme, "bin": b, "k": float(k), "value": mean[j], "ci_lo": lo[j],
                                 "ci_hi": hi[j], "mc_se": mc[j], "n_problems": len(idx), "flops": fl[j],
                                 "dollars": do[j]})
    return rows, boot_all


def whole_set_fits(ctx: RunContext, boot_all: np.ndarray | None
                   ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], np.ndarray]:
    """The power-law and beta fits of coverage on all n samples: (fits row, their curves, the power
    law, the observed coverage per k)."""
    data, ks, ident = ctx.data, ctx.ks, ctx.ident
    P, n = data.correct.shape
    conf, fs = ctx.st["confidence"], ctx.st["fit"]
    coverage = ctx.vals[ORACLE][0].mean(axis=0)
    reps = boot_all[: fs["bootstrap"]] if boot_all is not None else None
    ok = np.isfinite(coverage)  # all but an adaptive run's non-estimable k
    pl = fit_power_law(ks[ok], coverage[ok], None if reps is None else reps[:, ok], conf, fs["min_points"])
    fit_counts = resample_counts(P, fs["bootstrap"], ctx.rng("beta"))
    # an adaptive run's stopping depends only on outcomes seen, so the likelihood of all its samples
    # is the beta-binomial one of (n, correct) per problem: the fit uses every sample
    n_all, c_all = (np.full(P, n), data.n_correct) if ctx.adaptive is None else \
        (ctx.adaptive["n"], ctx.adaptive["correct"])
    bt = fit_beta(c_all, n_all, fit_counts, conf)
    beta_rmse = _rmse(beta_pass_at_k(bt["alpha"], bt["beta"], ks[ok]), coverage[ok]) if bt["ok"] else np.nan
    if ctx.adaptive is not None:
        n = int(ks[ok].max())
    rows: list[dict[str, Any]] = []
    grid = dense_grid(float(n))
    for name, (mid, lo, hi) in {"power_law": band(pl, grid, conf)}.items():
        rows += _line_rows("coverage_fit", ident, name, grid, mid, lo, hi, P)
    if bt["ok"]:
        rows += _line_rows("coverage_fit", ident, "beta", grid, beta_pass_at_k(bt["alpha"], bt["beta"], grid),
                           *_beta_band(bt, grid, conf), P)
    return _fit_row(ident, "all", n, n, P, pl, bt, beta_rmse), rows, pl, coverage


def holdout_check(ctx: RunContext, observed: dict[float, dict[str, Any]]
                  ) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]]]:
    """The honest extrapolation check: fit on the first m samples, predict coverage at the k above
    m and compare with `observed` (coverage rows of the whole set by k). Returns (fits row or None
    when m = n, extrapolation rows, the extrapolated curves)."""
    data, ks, ident = ctx.data, ctx.ks, ctx.ident
    P, n = data.correct.shape
    conf, fs = ctx.st["confidence"], ctx.st["fit"]
    m = max(1, int(n * fs["holdout"]))
    if m >= n:
        return None, [], []
    extra_rows: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    grid = dense_grid(float(n))
    sub = data.subset(m)
    sub_ks = k_grid(m, ctx.st["grid_base"])
    sub_cov = pass_at_k_matrix(np.full(P, m), sub.n_correct, sub_ks)
    sub_counts = resample_counts(P, fs["bootstrap"], ctx.rng("holdout"))
    pl_h = fit_power_law(sub_ks, sub_cov.mean(axis=0), boot_means(sub_cov, sub_counts), conf, fs["min_points"])
    bt_h = fit_beta(sub.n_correct, np.full(P, m), sub_counts, conf)
    held = np.array([k for k in ks if k > m and float(k) in observed], np.int64)
    preds = {"power_law": power_law(held, pl_h["a"], pl_h["b"]) if pl_h["ok"] else np.full(len(held), np.nan),
             "beta": beta_pass_at_k(bt_h["alpha"], bt_h["beta"], held) if bt_h["ok"]
             else np.full(len(held), np.nan)}
    for predictor, pred in preds.items():
        for k, p in zip(held, pred, strict=True):
            o = observed[float(k)]
            extra_rows.append({**ident, "predictor": predictor, "m": m, "n": n, "k": int(k), "observed": o["value"],
                               "observed_lo": o["ci_lo"], "observed_hi": o["ci_hi"], "predicted": float(p),
                               "error": float(p - o["value"])})
    hold_rmse = _rmse(beta_pass_at_k(bt_h["alpha"], bt_h["beta"], sub_ks), sub_cov.mean(axis=0)) if bt_h["ok"] \
        else np.nan
    rows += _line_rows("coverage_extrapolated", ident, "power_law", grid, *band(pl_h, grid, conf), P)
    if bt_h["ok"]:
        rows += _line_rows("coverage_extrapolated", ident, "beta", grid,
                           beta_pass_at_k(bt_h["alpha"], bt_h["beta"], grid), *_beta_band(bt_h, grid, conf), P)
    return _fit_row(ident, "holdout", m, n, P, pl_h, bt_h, hold_rmse), extra_rows, rows


def optimal_rows(ctx: RunContext) -> list[dict[str, Any]]:
    """The compute-optimal selector per difficulty bin, two-fold cross-validated, at each budget."""
    ks, ident = ctx.ks, ctx.ident
    P = ctx.data.correct.shape[0]
    st = ctx.st
    opt_rows = []
    strategies = [s for s in ctx.vals if s != ORACLE]
    budgets = ks if st["budgets"] is None else np.array([k for k in st["budgets"] if k in set(ks.tolist())], np.int64)
    # an adaptive run's selectors have values up to its first round only
    known = {int(k) for j, k in enumerate(ks) if all(np.isfinite(ctx.vals[s][0][:, j]).all() for s in strategies)}
    budgets = np.array([k for k in budgets if int(k) in known], np.int64)
    if len(strategies) >= 1 and P >= 2:
        fold = two_folds(P, ctx.rng("folds"))
        counts = resample_counts(P, st["bootstrap"], ctx.rng("optimal"))
        for scheme, labels in ctx.schemes.items():
            if scheme == "all":
                continue
            for k in budgets:
                j = int(np.flatnonzero(ks == k)[0])
                res = compute_optimal({s: ctx.vals[s][0][:, j] for s in strategies}, labels, fold, counts,
                                      st["confidence"])
                opt_rows.append({**ident, "scheme": scheme, "k": int(k), "per_bin": res["per_bin"],
                                 "single": res["single"], "gain": res["gain"], "gain_lo": res["gain_lo"],
                                 "gain_hi": res["gain_hi"], "choices": json.dumps(res["choices"], sort_keys=True),
                                 "single_choice": json.dumps(res["single_choice"]),
                                 "in_sample": json.dumps(res["in_sample"], sort_keys=True),
                                 "strategies": len(strategies)})
    return opt_rows


THINKING_COLUMNS = ("thinking_tokens", "answer_tokens", "thinking_flops", "answer_flops", "thinking_dollars",
                    "answer_dollars")


def extra_costs(ctx: RunContext, samples: str | Path, spec: dict[str, Any], root: Path | None,
                scorers: dict[str, dict[str, Any]], step_scorer: dict[str, Any] | None,
                search_shards: list[str], budget: int | None = None) -> dict[str, Any]:
    """The costs table's columns beyond the sampling model's: what the run's scorers spend per sample,
    what a search's policy and step scorer spent per problem, and a reasoning model's thinking and
    answer apart (NaN where they do not apply)."""
    data = ctx.data
    P = data.correct.shape[0]
    nan = np.full(P, np.nan)
    dims = {s: model_dims(s, sp, root) for s, sp in scorers.items()}
    read, per_scorer = scorer_costs(data.prompt_tokens, data.completion_tokens, dims)
    total = np.array([sum(m.values()) if m else 0.0 for m in per_scorer], np.float64)
    fpt = 2.0 * float(ctx.dims["n_params"]) if ctx.dims.get("ok") else np.nan
    out: dict[str, Any] = {
        "score_tokens": read if scorers else nan, "score_flops": total, "scorer_flops": per_scorer,
        "search_flops": data.search_tokens * fpt if data.search_tokens is not None else nan,
        "search_scored_tokens": nan, "search_scorer_flops": nan,
        **{c: nan for c in THINKING_COLUMNS}}
    if step_scorer and search_shards:
        scored = search_scored_tokens(search_shards, data.problem_ids, budget)
        sd = model_dims(step_scorer["name"], step_scorer["spec"], root)
        out["search_scored_tokens"] = scored
        out["search_scorer_flops"] = forward_flops(sd.get("n_params") if sd.get("ok") else None, scored)
    if "thinking_tokens" in pq.read_schema(samples).names:  # a reasoning model's run: thinking and answer apart
        t = run_costs(samples, data.model, spec, data.dataset, data.sampling, root).to_pydict()
        where = {p: i for i, p in enumerate(t["problem_id"])}
        order = [where.get(p) for p in data.problem_ids]
        for c in THINKING_COLUMNS:
            out[c] = np.array([np.nan if i is None else t[c][i] for i in order], np.float64)
    return out


def costs_table(ctx: RunContext) -> pa.Table:
    """Per problem: tokens, FLOPs and dollars of its samples (and a search's own token count), then
    the scorers', the search's and the thinking columns (extra_costs)."""
    data = ctx.data
    P, n = data.correct.shape
    extra = ctx.extra or {"scorer_flops": [{}] * P, "score_flops": np.zeros(P)}
    return pa.table({
        **{c: [v] * P for c, v in ctx.ident.items()}, "problem_id": data.problem_ids, "level": data.levels,
        "n": np.full(P, n), "n_correct": data.n_correct, **ctx.costs,
        "search_tokens": data.search_tokens if data.search_tokens is not None else np.full(P, np.nan),
        "flops_per_token": np.full(P, 2.0 * float(ctx.dims["n_params"]) if ctx.dims.get("ok") else np.nan),
        **{c: extra.get(c, np.full(P, np.nan)) for c in COSTS.names[COSTS.get_field_index("score_tokens"):]},
        "scorer_flops": [list(m.items()) for m in extra["scorer_flops"]]},
        schema=COSTS)


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
