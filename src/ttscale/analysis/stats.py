"""Seeded bootstrap over problems, and the log grid of k.

Every curve of a run is resampled with the same problem resamples (paired), drawn from a generator
seeded by the experiment seed and the run's identity, so reruns give identical intervals and two
selectors' intervals are comparable.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np


def stable_seed(*parts: object) -> int:
    """A 63-bit seed from JSON-able parts (stable across processes and Python versions)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "big") >> 1


def rng_for(seed: int, *parts: object) -> np.random.Generator:
    return np.random.default_rng(stable_seed(seed, *parts))


def k_grid(n: int, base: float = 2.0, extra: list[int] | tuple[int, ...] = ()) -> np.ndarray:
    """1, base, base^2, ... up to n, plus n itself and the configured extra ks (those <= n)."""
    ks = {1, n}
    x = 1.0
    while x * base <= n:
        x *= base
        ks.add(round(x))
    ks.update(int(k) for k in extra if 1 <= int(k) <= n)
    return np.array(sorted(ks), dtype=np.int64)


def dense_grid(kmax: float, points: int = 60) -> np.ndarray:
    """A smooth log grid from 1 to kmax for drawing fitted curves."""
    return np.unique(np.round(np.logspace(0, np.log10(max(kmax, 1.0)), points), 6))


def resample_counts(n_items: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """How often each item appears in each bootstrap resample (resamples x n_items)."""
    if n_items == 0:
        return np.zeros((resamples, 0))
    return rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=resamples).astype(np.float64)


def boot_means(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Bootstrap replicates of the column means of `values` (items x K) -> resamples x K."""
    if values.shape[0] == 0:
        return np.full((counts.shape[0], values.shape[1]), np.nan)
    return counts @ values / values.shape[0]


def interval(replicates: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap replicates (along axis 0)."""
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(replicates, [alpha, 1.0 - alpha], axis=0)
    return lo, hi
