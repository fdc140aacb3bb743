"""Expected accuracy of selectors over random k-subsets of a problem's n samples.

- best-of-k by a scorer: exact. Sort the scores; a tie class of b samples with `lo` samples strictly
  below and `hi = lo + b` at or below it holds the top of a random k-subset with probability
  (C(hi, k) - C(lo, k)) / C(n, k), and then each of its members in the subset is picked with equal
  chance, so the class adds (correct in class / b) times that probability. Unscored samples (NaN) rank
  below every scored one.
- majority vote@k over answer keys: exact by dynamic programming over the answer groups where that
  is cheap (see `vote_exact`), otherwise Monte Carlo with its standard error (`vote_mc`). Samples
  without an answer key do not vote; ties are broken uniformly at random; a subset without any vote
  is wrong; the voted answer is as correct as its group (the fraction of correct samples in it).
- scorer-weighted vote@k: Monte Carlo (each group's weight is the sum of its samples' scores). A
  missing score (NaN: an empty or too-long sample, a score the source lacked) weighs 0, as it ranks
  lowest in best-of-k; summed as NaN it would void the whole problem's vote.
All inputs are dense matrices with one row per problem and one column per sample.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from ttscale.analysis.passk import comb_ratio_table


def best_of_k(scores: np.ndarray, correct: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Exact expected accuracy of picking the top-scored sample of a random k-subset (P x K)."""
    P, n = scores.shape
    ks = np.asarray(ks, np.int64)
    s = np.where(np.isnan(scores), -np.inf, scores)
    srt = np.sort(s, axis=1)
    corr = correct.astype(bool)
    needles = np.sort(np.where(corr, s, np.inf), axis=1)  # each row's correct scores first (inf pads)
    n_corr = corr.sum(axis=1)
    table = comb_ratio_table(n, ks)  # K x (n+1)
    W = np.zeros((P, n + 1))
    for i in np.flatnonzero(n_corr):  # a loop over problems, not samples; sorted needles search fast
        x = needles[i, : n_corr[i]]
        lo = np.searchsorted(srt[i], x, "left")
        hi = np.searchsorted(srt[i], x, "right")
        w = 1.0 / (hi - lo)
        W[i] = np.bincount(hi, w, n + 1) - np.bincount(lo, w, n + 1)
    return W @ table.T


def group_labels(keys_codes: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-problem compact answer groups from global key codes (-1 = no answer).

    Returns labels (P x n, -1 for none), group sizes (P x G) and group correctness (P x G: the
    fraction of correct samples in each group).
    """
    P, n = keys_codes.shape
    valid = keys_codes >= 0
    n_codes = int(keys_codes.max()) + 1 if valid.any() else 0
    row_start = np.arange(P, dtype=np.int64)[:, None]
    if n_codes and P * n_codes <= 50_000_000:
        # Direct: mark which (problem, code) pairs occur, then number them within each problem.
        flat = np.where(valid, keys_codes + row_start * n_codes, 0)
        present = np.zeros(P * n_codes, bool)
        present[flat[valid]] = True
        local = (np.cumsum(present.reshape(P, n_codes), axis=1, dtype=np.int32) - 1).ravel()
        labels = np.where(valid, local[flat], -1)
    elif n_codes:
        combined = row_start * n_codes + keys_codes
        uniq, inv = np.unique(combined[valid], return_inverse=True)
        first = np.searchsorted(uniq // n_codes, np.arange(P))  # index of each row's first group
        labels = np.full((P, n), -1, np.int64)
        labels[valid] = inv - np.broadcast_to(first[:, None], (P, n))[valid]
    else:
        labels = np.full((P, n), -1, np.int64)
    rows = np.broadcast_to(row_start, (P, n))
    G = int(labels.max()) + 1 if valid.any() else 0
    flat = (rows * max(G, 1) + labels)[valid]
    sizes = np.bincount(flat, minlength=P * G).reshape(P, G) if G else np.zeros((P, 0), np.int64)
    hits = np.bincount(flat, correct[valid].astype(np.float64), P * G).reshape(P, G) if G else np.zeros((P, 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(sizes > 0, hits / np.maximum(sizes, 1), 0.0)
    return labels.astype(np.int32), sizes, frac


# --- majority vote, exact ------------------------------------------------------------------------

def _log_comb(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    with np.errstate(invalid="ignore"):
        out = gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)
    return np.where((b < 0) | (b > a), -np.inf, out)


STEP_ELEMENTS = 2000  # one DP step costs about as much as touching this many array elements


def vote_exact_cost(sizes: np.ndarray, corr: np.ndarray, kmax: int) -> float:
    """Cost of `vote_exact` in DP steps (about 10-20 microseconds each): for each correct group g and
    vote count x <= min(m_g, kmax), one step per rival h that can reach x and per count j <= x it
    can take, each over (kmax - x + 1) subset sizes x (rivals tied + 1) array elements."""
    sizes = np.asarray(sizes, np.int64)
    total = 0.0
    for g in np.flatnonzero((np.asarray(corr) > 0) & (sizes > 0)):
        top = min(int(sizes[g]), kmax)
        others = np.sort(np.delete(sizes, g))
        x = np.arange(1, top + 1)
        L = len(others) - np.searchsorted(others, x, "left")  # rivals that can reach x
        steps = L * (x + 1) + 1
        total += float(np.sum(steps * (1.0 + (kmax - x + 1) * (L + 1) / STEP_ELEMENTS)))
    return total


def _tie_weighted(others: np.ndarray, N1: int, x: int, rmax: int) -> np.ndarray:
    """W[r] = E[1/(1+T); every rival group has at most x votes] for r items drawn from the N1 items
    outside the candidate group, T = rivals with exactly x votes (r = 0..rmax)."""
    rmax = min(rmax, N1)
    cons = np.sort(others[others >= x])[::-1]
    L = len(cons)
    M = N1 - int(cons.sum())  # unconstrained items: no-answer samples and groups too small to reach x
    S = np.zeros((rmax + 1, L + 1))
    S[: min(M, rmax) + 1, 0] = 1.0  # any r <= M items drawn from the unconstrained block alone
    r = np.arange(rmax + 1)
    for m in cons:
        M2 = M + int(m)
        new = np.zeros_like(S)
        logden = _log_comb(M2, r)
        for j in range(0, min(int(m), x) + 1):
            rj = r - j
            ok = (rj >= 0) & (rj <= M) & (r <= M2)
            if not ok.any():
                continue
            h = np.zeros(rmax + 1)
            h[ok] = np.exp(_log_comb(m, j) + _log_comb(M, rj[ok]) - logden[ok])
            src = np.zeros_like(S)
            src[ok] = S[rj[ok]]
            if j == x:
                new[:, 1:] += h[:, None] * src[:, :-1]
            else:
                new += h[:, None] * src
        S = new
        M = M2
    return S @ (1.0 / (1.0 + np.arange(L + 1)))


def vote_exact(sizes: np.ndarray, corr: np.ndarray, n: int, ks: np.ndarray) -> np.ndarray:
    """Exact expected majority-vote accuracy of one problem at each k (ties uniform, none = no vote).

    For each group g that is (partly) correct: sum over x >= 1 of P(g gets x votes) times the chance
    that every other group gets at most x, weighted by 1/(1 + groups tied at x). The latter is a DP
    over the rival groups that can reach x, in probabilities (hypergeometric mixing), so nothing
    overflows; groups smaller than x and no-answer samples are merged into one unconstrained block.
    """
    sizes = np.asarray(sizes, np.int64)
    ks = np.asarray(ks, np.int64)
    kmax = int(ks.max())
    out = np.zeros(len(ks))
    for g in np.flatnonzero((np.asarray(corr) > 0) & (sizes > 0)):
        mg = int(sizes[g])
        others = np.delete(sizes, g)
        N1 = n - mg
        win = np.zeros(kmax + 1)
        kk = np.arange(kmax + 1)
        for x in range(1, min(mg, kmax) + 1):
            W = _tie_weighted(others, N1, x, kmax - x)
            r = kk - x
            ok = (r >= 0) & (r < len(W))
            px = np.exp(_log_comb(mg, x) + _log_comb(N1, r[ok]) - _log_comb(n, kk[ok]))
            win[ok] += px * W[r[ok]]
        out += corr[g] * win[ks]
    return out


# --- votes, Monte Carlo --------------------------------------------------------------------------

def vote_weights(weights: np.ndarray) -> np.ndarray:
    """Scores as vote weights: a missing score (NaN) weighs 0. One NaN would make its group's sum, and
    so the maximum over groups, NaN: no group would win and the problem would count as wrong."""
    w = np.asarray(weights, dtype=np.float64)
    return np.where(np.isnan(w), 0.0, w)


def vote_mc(
    labels: np.ndarray,
    group_corr: np.ndarray,
    ks: np.ndarray,
    weights: list[np.ndarray | None],
    draws: int,
    rng: np.random.Generator,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Monte Carlo vote@k for several weightings at once (None = majority vote).

    A draw is a random order of every problem's samples; the first k of it are a uniformly random
    k-subset, for every k at once. Only which k-bracket a sample's position falls in matters, so a
    draw shuffles the bracket labels of each problem (no gather of the samples), one bincount per
    weighting sums the votes per (problem, answer group, bracket), and cumulative sums over the
    brackets give every prefix. Returns per weighting (mean P x K, standard error of the mean P x K)
    over `draws` draws.
    """
    P, n = labels.shape
    G = group_corr.shape[1]
    slots = G + 1  # one extra slot per problem collects the samples without an answer
    ks = np.asarray(ks, np.int64)
    order = np.argsort(ks, kind="stable")
    sk = ks[order]
    nb = len(sk) + 1  # bracket j holds positions [sk[j-1], sk[j]); the last one positions >= max k
    bracket = np.searchsorted(sk, np.arange(n), side="right").astype(np.int8 if nb < 127 else np.int16)
    base = np.where(labels >= 0, labels, G).astype(np.int64) + (np.arange(P) * slots)[:, None]
    base *= nb
    flat_w = [None if w is None else vote_weights(w).ravel() for w in weights]
    corr = group_corr[:, :, None]
    sums = [np.zeros((P, len(ks))) for _ in weights]
    sq = [np.zeros((P, len(ks))) for _ in weights]
    layout = np.broadcast_to(bracket, (P, n))
    for _ in range(draws):
        key = (base + rng.permuted(layout, axis=1)).ravel()
        count = np.bincount(key, minlength=P * slots * nb).reshape(P, slots, nb)
        has = np.cumsum(count, axis=2)[:, :G, : nb - 1] > 0
        for j, w in enumerate(flat_w):
            tot = count if w is None else np.bincount(key, w, P * slots * nb).reshape(P, slots, nb)
            acc = np.cumsum(tot, axis=2)[:, :G, : nb - 1]
            a = np.where(has, acc, -np.inf)
            tied = has & (a == a.max(axis=1, keepdims=True)) if G else has
            t = tied.sum(axis=1)
            val = np.where(t > 0, (tied * corr).sum(axis=1) / np.maximum(t, 1), 0.0)  # P x K (sorted ks)
            sums[j][:, order] += val
            sq[j][:, order] += val * val
    out = []
    for s_, q in zip(sums, sq, strict=True):
        mean = s_ / draws
        var = np.maximum(q / draws - mean * mean, 0.0) * draws / max(draws - 1, 1)
        out.append((mean, np.sqrt(var / draws)))
    return out


def vote_at_1(labels: np.ndarray, group_corr: np.ndarray) -> np.ndarray:
    """Exact vote@1 (any weighting): the sample's own group correctness; no answer counts 0."""
    P = labels.shape[0]
    rows = np.broadcast_to(np.arange(P)[:, None], labels.shape)
    vals = np.where(labels >= 0, group_corr[rows, np.maximum(labels, 0)] if group_corr.size else 0.0, 0.0)
    return vals.mean(axis=1)


def vote_at_n(labels: np.ndarray, group_corr: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Exact vote@n: the whole set votes (no randomness except uniform tie-breaking)."""
    P = labels.shape[0]
    G = max(group_corr.shape[1], 1)
    keys = np.where(labels >= 0, labels + (np.arange(P) * G)[:, None], -1).ravel()
    valid = keys >= 0
    present = np.bincount(keys[valid], minlength=P * G).reshape(P, G) > 0
    w = None if weights is None else vote_weights(weights).ravel()[valid]
    acc = np.where(present, np.bincount(keys[valid], w, P * G).reshape(P, G), -np.inf)
    tied = present & (acc == acc.max(axis=1, keepdims=True))
    t = tied.sum(axis=1)
    corr = np.zeros((P, G))
    corr[:, : group_corr.shape[1]] = group_corr
    return np.where(t > 0, (tied * corr).sum(axis=1) / np.maximum(t, 1), 0.0)
