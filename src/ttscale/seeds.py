"""Per-sample seeds that do not depend on block size or run order."""

from __future__ import annotations

import hashlib


def sample_seed(experiment_seed: int, model: str, dataset: str, problem_id: str, index: int) -> int:
    """A 63-bit seed from (experiment seed, model, dataset, problem id, sample index).

    Hashing the fields (rather than e.g. seed + index) keeps seeds of different problems and
    models unrelated, so no two samples share a random stream by accident.
    """
    key = "\x1f".join([str(experiment_seed), model, dataset, problem_id, str(index)])
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << 63) - 1)
