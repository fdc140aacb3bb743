"""Difficulty bins and the compute-optimal strategy per bin, chosen by two-fold cross-validation.

- Snell et al. (2024): five quantile bins of the model's own pass@1 over the problems, level 1 the
  easiest: equal slices of the ranks by pass@1. Problems with equal pass@1 always share a bin: a tie
  class at an end of the ranking goes to that end's bin (unsolved problems to the hardest, always
  solved ones to the easiest), any other to the bin of its middle rank; so bins can differ in size
  or be empty when many problems tie (e.g. at pass@1 = 0).
- Liu et al. (2025): absolute bins easy (pass@1 >= 50 %), medium (10-50 %), hard (< 10 %).
Both use the pass@1 of all of the run's samples ("oracle" difficulty, as in both papers).

Compute-optimal per bin: for a budget (k samples), each candidate strategy (selector) has a
per-problem expected accuracy. Problems are split into two halves at random (seeded). On one half we
pick the best strategy per bin and the best single strategy overall; we score both picks on the other
half; then swap the halves. Every problem is thus scored by a choice made without it, and the two
policies are compared on the same problems (a paired bootstrap gives the interval of the gain).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ttscale.analysis.stats import boot_means, interval, resample_counts


def quantile_bins(pass1: np.ndarray, q: int = 5) -> np.ndarray:
    """Labels '1' (easiest) .. 'q' (hardest): rank r of N (1 = highest pass@1) is in bin
    floor((r - 0.5) q / N) + 1. A tie class shares one rank: its first at the top of the ranking, its
    last at the bottom (if it is everything: the last if unsolved, the first if always solved), else its
    middle. Averaging the ranks of an end class would put e.g. 9 unsolved problems of 10 in a middle
    bin and leave the hardest bin to a solved one; untied problems keep their own rank."""
    pass1 = np.asarray(pass1, np.float64)
    N = len(pass1)
    if N == 0:
        return np.array([], dtype=object)
    values, inv, counts = np.unique(-pass1, return_inverse=True, return_counts=True)  # easiest first
    last = np.cumsum(counts).astype(np.float64)
    first = last - counts + 1
    rank = (first + last) / 2.0
    top, bottom = first == 1, last == N
    rank[top & ~bottom] = 1.0
    rank[bottom & ~top] = float(N)
    if top[0] and bottom[0]:  # one class: all problems tie
        rank[0] = float(N) if -values[0] <= 0 else 1.0 if -values[0] >= 1 else rank[0]
    level = np.minimum(np.floor((rank - 0.5) * q / N).astype(int), q - 1) + 1
    return np.array([str(v) for v in level[inv.ravel()]], dtype=object)


def absolute_bins(pass1: np.ndarray, edges: tuple[float, float] = (0.1, 0.5)) -> np.ndarray:
    lo, hi = edges
    pass1 = np.asarray(pass1, np.float64)
    return np.where(pass1 >= hi, "easy", np.where(pass1 >= lo, "medium", "hard")).astype(object)


ABSOLUTE_ORDER = ("easy", "medium", "hard")


def bin_schemes(pass1: np.ndarray, bins: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per problem, its bin in each scheme: `all` (one bin), `quantile` and `absolute`."""
    return {"all": np.array(["all"] * len(pass1), dtype=object),
            "quantile": quantile_bins(pass1, bins["quantiles"]),
            "absolute": absolute_bins(pass1, tuple(bins["absolute_edges"]))}


def bin_order(scheme: str, labels: np.ndarray) -> list[str]:
    present = set(labels.tolist())
    if scheme == "absolute":
        return [b for b in ABSOLUTE_ORDER if b in present]
    return sorted(present, key=lambda s: (len(s), s))


def two_folds(n_items: int, rng: np.random.Generator) -> np.ndarray:
    """0/1 fold of each item: a seeded random half split."""
    fold = np.zeros(n_items, np.int64)
    fold[rng.permutation(n_items)[n_items // 2:]] = 1
    return fold


def _best(values: dict[str, np.ndarray], rows: np.ndarray, names: list[str]) -> str:
    """The strategy with the highest mean on `rows`; means equal to 1e-9 (e.g. every selector at
    k = 1, where all are one random sample) count as ties, won by the first name in sorted order."""
    means = np.round([float(values[s][rows].mean()) for s in names], 9)
    return names[int(np.argmax(means))]


def compute_optimal(values: dict[str, np.ndarray], bins: np.ndarray, fold: np.ndarray,
                    counts: np.ndarray, confidence: float = 0.95) -> dict[str, Any]:
    """Cross-validated accuracy of the per-bin best strategy vs the best single strategy.

    `values`: strategy -> per-problem expected accuracy at one budget (length P).
    """
    names = sorted(values)
    P = len(bins)
    per_bin = np.zeros(P)
    single = np.zeros(P)
    choices: dict[str, list[str]] = {}
    single_choice = []
    for f in (0, 1):
        train, test = fold != f, fold == f
        overall = _best(values, train, names)
        single_choice.append(overall)
        single[test] = values[overall][test]
        for b in sorted(set(bins.tolist())):
            in_bin = bins == b
            tr = train & in_bin
            pick = _best(values, tr, names) if tr.any() else overall
            choices.setdefault(b, []).append(pick)
            te = test & in_bin
            per_bin[te] = values[pick][te]
    diff = (per_bin - single)[:, None]
    lo, hi = interval(boot_means(diff, counts)[:, 0], confidence)
    in_sample = {b: _best(values, bins == b, names) for b in sorted(set(bins.tolist()))}
    return {
        "per_bin": float(per_bin.mean()) if P else np.nan,
        "single": float(single.mean()) if P else np.nan,
        "gain": float(diff.mean()) if P else np.nan,
        "gain_lo": float(lo),
        "gain_hi": float(hi),
        "choices": choices,
        "single_choice": single_choice,
        "in_sample": in_sample,
        "per_problem": per_bin,
        "single_per_problem": single,
    }


__all__ = ["ABSOLUTE_ORDER", "absolute_bins", "bin_order", "bin_schemes", "compute_optimal", "quantile_bins",
           "resample_counts", "two_folds"]
