"""Search strategies against best-of-N at equal compute, and the compute-optimal strategy per bin.

For one model and dataset, the candidates at a generation budget N are
- best-of-N: every selector of a repeated-sampling run at k = N (the unbiased expectation over
  random N-subsets, from the run's `values` table);
- every search run (`strategies:` of the config) with budget N: every selector over its N answers.
Difficulty bins come from the repeated-sampling run's pass@1 over all its samples (Snell et al.'s
quantile bins, Liu et al.'s absolute bins), so every strategy is binned by the same problem split.

Per scheme, bin and budget the table gives the compute-optimal policy (the best candidate per bin,
chosen on one half of the problems and scored on the other, two-fold) against best-of-N with its best
selector chosen the same way, the paired-bootstrap interval of the gain, and the efficiency: the
smallest best-of-N budget (on the repeated-sampling run's k grid) whose accuracy in the bin reaches
the compute-optimal policy's, divided by N (Snell et al.'s "4x fewer generations").

FLOPs per problem (the `*_flops` columns, and what the policies are compared at) count every model
call, 2 x parameters x tokens processed: for best-of-N, the policy over k x (prompt + completion)
plus the selector's scorer reading the k answers (a best-of-N by a 7B PRM pays for the PRM; vote
and the log-probability selectors pay nothing more); for a search, the policy over every token the
search sent and generated (rollouts and pruned beams included), its step scorer over every prefix
it scored, and the final selector's scorer over the N answers. The `*_scorer_flops` columns give the
scorers' part alone (the papers count the policy only: the difference of the two).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ttscale.analysis.difficulty import bin_order, bin_schemes, compute_optimal, two_folds
from ttscale.analysis.selectors import ORACLE, scorer_of
from ttscale.analysis.stats import boot_means, interval, resample_counts, rng_for
from ttscale.analysis.tables import STRATEGIES, STRATEGY_POINTS
from ttscale.errors import DataError
from ttscale.io import read_run

log = logging.getLogger(__name__)

BEST_OF_N = "best-of-N"

def _values(path: str, pids: list[str], sampling: str) -> dict[tuple[str, int], np.ndarray]:
    """(selector, k) -> per-problem value of the run `sampling` in the order of `pids` (NaN where a
    problem has none)."""
    t = read_run(path, ["selector", "k", "problem_id", "value"], sampling)
    prob = t["problem_id"].combine_chunks()
    idx = pc.index_in(prob, value_set=pa.array(pids, pa.string()))
    if idx.null_count:
        first = prob.filter(pc.is_null(idx))[0].as_py()
        raise DataError(f"{path}: problem {first!r} is not among the problems of the run's costs table")
    groups = t.select(["selector", "k"]).append_column("row", pa.array(np.arange(t.num_rows)))
    groups = groups.group_by(["selector", "k"], use_threads=False).aggregate([("row", "list")])
    pos = idx.to_numpy(zero_copy_only=False)
    val = t["value"].to_numpy(zero_copy_only=False).astype(np.float64)
    out: dict[tuple[str, int], np.ndarray] = {}
    for s, k, rows in zip(*(groups[c].to_pylist() for c in ("selector", "k", "row_list")), strict=True):
        arr = np.full(len(pids), np.nan)
        arr[pos[rows]] = val[rows]
        out[(s, int(k))] = arr
    return out


def compare_strategies(run_files: Sequence[dict[str, Any]], costs: pa.Table, settings: dict[str, Any],
                       seed: int) -> tuple[pa.Table, pa.Table]:
    """The STRATEGIES and STRATEGY_POINTS tables (empty when no run is a search strategy)."""
    searches = [rf for rf in run_files if rf.get("strategy")]
    rows: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    if not searches:
        return STRATEGIES.empty_table(), STRATEGY_POINTS.empty_table()
    B, conf = settings["bootstrap"], settings["confidence"]
    pairs = sorted({(rf["model"], rf["dataset"]) for rf in searches})
    for model, dataset in pairs:
        refs = sorted((rf for rf in run_files if not rf.get("strategy") and (rf["model"], rf["dataset"]) ==
                       (model, dataset)), key=lambda rf: rf["sampling"])
        mine = sorted((rf for rf in searches if (rf["model"], rf["dataset"]) == (model, dataset)),
                      key=lambda rf: (rf["strategy"], rf["budget"], rf["sampling"]))
        if not refs:
            log.warning("%s/%s: search runs but no repeated-sampling run to compare them with", model, dataset)
            continue
        ref = refs[0]
        rc = costs.filter(pc.and_(pc.equal(costs["model"], model), pc.equal(costs["dataset"], dataset)))
        ref_costs = rc.filter(pc.equal(rc["sampling"], ref["sampling"]))
        pids = ref_costs["problem_id"].to_pylist()
        P = len(pids)
        ref_vals = _values(ref["values"], pids, ref["sampling"])
        n_ref = int(ref_costs["n"][0].as_py())
        ref_ks = sorted({k for _, k in ref_vals})
        per_sample = np.asarray(ref_costs["prompt_tokens"].to_numpy(), np.float64) + \
            np.asarray(ref_costs["completion_tokens"].to_numpy(), np.float64)
        fpt = np.asarray(ref_costs["flops_per_token"].to_numpy(), np.float64)
        ref_scorers = _scorer_flops(ref_costs)
        pass1 = np.asarray(ref_costs["n_correct"].to_numpy(), np.float64) / n_ref
        schemes = bin_schemes(pass1, settings["bins"])
        fold = two_folds(P, rng_for(seed, "strategies-folds", model, dataset))  # the same halves at every budget
        bon_selectors = sorted({s for s, _ in ref_vals if s != ORACLE})
        # candidates per budget: label -> (family, selector, per-problem value, per-problem flops)
        cands: dict[int, dict[str, tuple[str, str, np.ndarray, np.ndarray]]] = {}
        for rf in mine:
            budget = int(rf["budget"])
            sc = rc.filter(pc.equal(rc["sampling"], rf["sampling"]))
            spids = sc["problem_id"].to_pylist()
            if sorted(spids) != sorted(pids):
                raise DataError(f"{rf['values']}: strategy {rf['strategy']} (N={budget}) has other problems than "
                                f"the repeated-sampling run {ref['sampling']} of {model}/{dataset}")
            where = {p: i for i, p in enumerate(spids)}
            order = np.array([where[p] for p in pids])
            tokens = np.asarray(sc["search_tokens"].to_numpy(), np.float64)[order]
            sfpt = np.asarray(sc["flops_per_token"].to_numpy(), np.float64)[order]
            # the step scorer while searching (NaN: a search with a scorer of unknown size is not free)
            step = np.asarray(sc["search_scorer_flops"].to_numpy(zero_copy_only=False), np.float64)[order]
            step = np.where(np.isnan(step) & np.isnan(np.asarray(sc["search_scored_tokens"].to_numpy(
                zero_copy_only=False), np.float64)[order]), 0.0, step)
            sel_scorers = {k: v[order] for k, v in _scorer_flops(sc).items()}
            vals = _values(rf["values"], pids, rf["sampling"])
            n = max(k for _, k in vals)
            if n != budget:
                raise DataError(f"{rf['values']}: strategy {rf['strategy']} has {n} answers per problem, budget "
                                f"{budget}")
            for s in sorted({s for s, _ in vals if s != ORACLE}):
                policy = tokens * sfpt
                scorer = step + budget * _selector_flops(s, sel_scorers, P)
                cands.setdefault(budget, {})[f"{rf['strategy']} · {s}"] = (rf["strategy"], s, vals[(s, n)],
                                                                          policy + scorer, scorer)
        for budget in sorted(cands):
            if budget not in ref_ks:
                log.warning("%s/%s: best-of-N has no k = %d (n = %d); budget left out", model, dataset, budget,
                            n_ref)
                continue
            bon = {}
            for s in bon_selectors:
                scorer = budget * _selector_flops(s, ref_scorers, P)
                bon[f"{BEST_OF_N} · {s}"] = (BEST_OF_N, s, ref_vals[(s, budget)], budget * per_sample * fpt + scorer,
                                            scorer)
            every = {**bon, **cands[budget]}
            counts = resample_counts(P, B, rng_for(seed, "strategies", model, dataset, budget))
            for scheme, labels in schemes.items():
                opt = compute_optimal({k: v[2] for k, v in every.items()}, labels, fold, counts, conf)
                ref_pol = compute_optimal({k: v[2] for k, v in bon.items()}, labels, fold, counts, conf)
                opt_flops = _policy_flops(every, labels, fold, opt["choices"])
                bon_flops = _policy_flops(bon, labels, fold, ref_pol["choices"])
                opt_sflops = _policy_flops(every, labels, fold, opt["choices"], 4)
                bon_sflops = _policy_flops(bon, labels, fold, ref_pol["choices"], 4)
                for b in ["all", *bin_order(scheme, labels)] if scheme != "all" else ["all"]:
                    idx = np.ones(P, bool) if b == "all" else labels == b
                    diff = (opt["per_problem"] - ref_pol["per_problem"])[idx, None]
                    lo, hi = _bin_interval(diff, B, conf, seed, model, dataset, scheme, b, budget)
                    o, r = float(opt["per_problem"][idx].mean()), float(ref_pol["per_problem"][idx].mean())
                    rows.append({
                        "model": model, "dataset": dataset, "scheme": scheme, "bin": b, "budget": budget,
                        "n_problems": int(idx.sum()), "optimal": o, "best_of_n": r, "gain": o - r,
                        "gain_lo": float(lo), "gain_hi": float(hi),
                        "efficiency": _efficiency(ref_vals, bon_selectors, ref_ks, idx, o, budget),
                        "optimal_flops": float(opt_flops[idx].mean()), "best_of_n_flops": float(bon_flops[idx].mean()),
                        "optimal_scorer_flops": float(opt_sflops[idx].mean()),
                        "best_of_n_scorer_flops": float(bon_sflops[idx].mean()),
                        "choices": json.dumps(opt["choices"].get(b) if b != "all" else opt["choices"],
                                              sort_keys=True),
                        "best_of_n_choice": json.dumps(ref_pol["choices"].get(b) if b != "all" else
                                                       ref_pol["choices"], sort_keys=True),
                        "candidates": len(every)})
                    if (scheme == "all") != (b == "all"):
                        continue  # the whole set is drawn once, from the "all" scheme
                    points += _points(every, idx, scheme, b, budget, model, dataset, B, conf, seed)
    rows.sort(key=lambda r: (r["dataset"], r["model"], r["scheme"], r["bin"], r["budget"]))
    points.sort(key=lambda r: (r["dataset"], r["model"], r["scheme"], r["bin"], r["family"], r["budget"]))
    return pa.Table.from_pylist(rows, schema=STRATEGIES), pa.Table.from_pylist(points, schema=STRATEGY_POINTS)


def _policy_flops(cands: dict[str, tuple], labels: np.ndarray, fold: np.ndarray, choices: dict[str, list[str]],
                  at: int = 3) -> np.ndarray:
    """Per problem: the FLOPs (all, or at=4 the scorers' part) of the candidate the cross-validated
    policy picked for it."""
    out = np.full(len(labels), np.nan)
    for b, picks in choices.items():
        for f, pick in zip((0, 1), picks, strict=True):
            idx = (labels == b) & (fold == f)
            out[idx] = cands[pick][at][idx]
    return out


def _scorer_flops(costs: pa.Table) -> dict[str, np.ndarray]:
    """scorer -> per-problem FLOPs per sample of the run's model-based scorers (the costs' map column)."""
    out: dict[str, list[float]] = {}
    rows = costs["scorer_flops"].to_pylist() if "scorer_flops" in costs.column_names else [None] * costs.num_rows
    for i, pairs in enumerate(rows):
        for name, v in pairs or []:
            out.setdefault(name, [np.nan] * costs.num_rows)[i] = np.nan if v is None else v
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def _selector_flops(selector: str, per_scorer: dict[str, np.ndarray], P: int) -> np.ndarray:
    """Per problem: FLOPs per answer of the scorer a selector reads (`best:<score>`, `wvote:<score>`;
    a step aggregation `<scorer>:<agg>` is the same scorer); 0 for vote and model-free scores."""
    scorer = scorer_of(selector)
    return per_scorer.get(scorer, np.zeros(P)) if scorer else np.zeros(P)


def _bin_interval(diff: np.ndarray, B: int, conf: float, seed: int, *key: Any) -> tuple[float, float]:
    counts = resample_counts(len(diff), B, rng_for(seed, "strategies-bin", *key))
    return interval(boot_means(diff, counts)[:, 0], conf)


def _efficiency(ref_vals: dict[tuple[str, int], np.ndarray], selectors: list[str], ks: list[int], idx: np.ndarray,
                target: float, budget: int) -> float:
    """Smallest best-of-N budget (best selector per k, in the bin) reaching `target`, over `budget`;
    NaN when no k of the grid reaches it."""
    for k in ks:
        best = max((float(ref_vals[(s, k)][idx].mean()) for s in selectors if (s, k) in ref_vals), default=np.nan)
        if np.isfinite(best) and round(best, 9) >= round(target, 9):
            return k / budget
    return float("nan")


def _points(every: dict[str, tuple[str, str, np.ndarray, np.ndarray]], idx: np.ndarray, scheme: str, b: str,
            budget: int, model: str, dataset: str, B: int, conf: float, seed: int) -> list[dict[str, Any]]:
    """Per family: its best selector in the bin (in sample, for the figure), with a bootstrap interval."""
    out = []
    for family in sorted({v[0] for v in every.values()}):
        members = sorted((k for k, v in every.items() if v[0] == family),
                         key=lambda k: (-round(float(every[k][2][idx].mean()), 9), k))
        fam, sel, val, flops = every[members[0]][:4]
        counts = resample_counts(int(idx.sum()), B, rng_for(seed, "strategy-points", model, dataset, scheme, b,
                                                              family, budget))
        lo, hi = interval(boot_means(val[idx, None], counts)[:, 0], conf)
        out.append({"model": model, "dataset": dataset, "scheme": scheme, "bin": b, "family": fam, "selector": sel,
                    "budget": budget, "value": float(val[idx].mean()), "ci_lo": float(lo), "ci_hi": float(hi),
                    "flops": float(flops[idx].mean()), "n_problems": int(idx.sum())})
    return out


__all__ = ["STRATEGIES", "STRATEGY_POINTS", "compare_strategies"]
