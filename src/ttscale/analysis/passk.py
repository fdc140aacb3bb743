"""The unbiased pass@k estimator of Chen et al. (2021), stable for n in the tens of thousands.

pass@k = 1 - C(n - c, k) / C(n, k): the chance that a random k-subset of the n samples holds at
least one of the c correct ones. The ratio of binomials is computed as a product of (1 - k / j)
for j = n - c + 1 .. n in log space, so nothing overflows and nothing cancels badly.
"""

from __future__ import annotations

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with n samples of which c are correct (k <= n)."""
    if k > n:
        raise ValueError(f"k={k} exceeds the number of samples n={n}")
    if n - c < k:
        return 1.0
    j = np.arange(n - c + 1, n + 1, dtype=np.float64)
    return float(-np.expm1(np.sum(np.log1p(-k / j))))


def pass_at_k_array(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """pass@k for many problems at once (vectorized over problems)."""
    n = np.asarray(n, dtype=np.int64)
    c = np.asarray(c, dtype=np.int64)
    if np.any(k > n):
        raise ValueError(f"k={k} exceeds the number of samples of some problem")
    out = np.ones(len(n), dtype=np.float64)
    todo = (n - c) >= k
    for i in np.flatnonzero(todo):
        j = np.arange(n[i] - c[i] + 1, n[i] + 1, dtype=np.float64)
        out[i] = -np.expm1(np.sum(np.log1p(-k / j)))
    return out
