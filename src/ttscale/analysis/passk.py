"""The unbiased pass@k estimator of Chen et al. (2021), stable for n in the tens of thousands.

pass@k = 1 - C(n - c, k) / C(n, k): the chance that a random k-subset of the n samples holds at
least one of the c correct ones. The ratio of binomials is never formed from the binomials: it is
exp(log-gamma differences), and where the ratio is close to 1 (few correct samples or small k, where
a relative error would show) it is recomputed as the exact product of min(c, k) factors
(1 - max(c, k) / (n - i)) in log space, so small pass@k values keep their relative precision.
"""

from __future__ import annotations

import numpy as np

EXACT_TERMS = 64  # ratios needing at most this many factors are computed as products


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with n samples of which c are correct (k <= n)."""
    if k > n:
        raise ValueError(f"k={k} exceeds the number of samples n={n}")
    if n - c < k:
        return 1.0
    j = np.arange(n - c + 1, n + 1, dtype=np.float64)
    return float(-np.expm1(np.sum(np.log1p(-k / j))))


def log_comb_ratio(m: np.ndarray, n: np.ndarray, k: np.ndarray) -> np.ndarray:
    """log(C(m, k) / C(n, k)) for m <= n (broadcast); -inf where m < k."""
    from scipy.special import gammaln  # here, not at the top: pass_at_k (`ttscale verify`) never needs scipy

    m, n, k = np.broadcast_arrays(np.asarray(m, np.float64), np.asarray(n, np.float64), np.asarray(k, np.float64))
    out = np.full(m.shape, -np.inf)
    ok = m >= k
    mo, no, ko = m[ok], n[ok], k[ok]
    out[ok] = gammaln(mo + 1) - gammaln(mo - ko + 1) - gammaln(no + 1) + gammaln(no - ko + 1)
    return out


def pass_at_k_matrix(n: np.ndarray, c: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """pass@k for every problem (rows: n, c) and every k (columns); k > n gives NaN."""
    n = np.asarray(n, np.int64)[:, None]
    c = np.asarray(c, np.int64)[:, None]
    k = np.asarray(ks, np.int64)[None, :]
    if np.any(c > n) or np.any(c < 0):
        raise ValueError("correct counts must lie in [0, n]")
    logr = log_comb_ratio(n - c, n, k)  # log C(n-c, k) / C(n, k)
    # Exact product where it is short: ratio = prod_{i<m} (1 - M / (n - i)), m = min(c, k), M = max(c, k).
    m = np.minimum(c, k)
    big = np.maximum(c, k)
    short = (m <= EXACT_TERMS) & (n - c >= k) & (k <= n)
    rows, cols = np.nonzero(short)
    if len(rows):
        i = np.arange(EXACT_TERMS)[None, :]
        nn = np.broadcast_to(n, short.shape)[rows, cols][:, None].astype(np.float64)
        mm = np.broadcast_to(m, short.shape)[rows, cols][:, None]
        bb = np.broadcast_to(big, short.shape)[rows, cols][:, None].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(i < mm, np.log1p(-bb / np.maximum(nn - i, 1.0)), 0.0)
        logr[rows, cols] = terms.sum(axis=1)
    out = -np.expm1(logr)
    out = np.where(np.broadcast_to(k > n, out.shape), np.nan, out)
    return out


def pass_at_k_array(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """pass@k for many problems at once (vectorized over problems)."""
    n = np.asarray(n, dtype=np.int64)
    if np.any(k > n):
        raise ValueError(f"k={k} exceeds the number of samples of some problem")
    return pass_at_k_matrix(n, c, np.array([k]))[:, 0]


def comb_ratio_table(n: int, ks: np.ndarray) -> np.ndarray:
    """R[j, m] = C(m, ks[j]) / C(n, ks[j]) for m = 0..n: the chance that a random ks[j]-subset of n
    items lies inside a fixed set of m of them."""
    m = np.arange(n + 1)[None, :]
    k = np.asarray(ks, np.int64)[:, None]
    return np.exp(log_comb_ratio(m, np.full_like(m, n), k))
