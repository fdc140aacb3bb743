"""What every scorer shares: the items it scores, step splitting, aggregations and result rows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AGGREGATIONS = ("last", "min", "prod", "mean")
DEFAULT_AGGREGATION = "min"  # a process scorer's `score` without `aggregation:`


@dataclass
class Item:
    """One sample as a scorer sees it: the problem's question and the full response."""

    question: str
    response: str
    cumulative_logprob: float | None = None
    completion_tokens: int = 0


def split_steps(response: str, separator: str = "\n\n") -> tuple[list[str], list[int]]:
    """Steps of a solution and the character offset where each ends (empty steps dropped)."""
    steps, ends, pos = [], [], 0
    for part in response.split(separator):
        pos_end = pos + len(part)
        if part.strip():
            steps.append(part.strip())
            ends.append(pos_end)
        pos = pos_end + len(separator)
    return steps, ends


def aggregate(scores: Sequence[float], how: str) -> float | None:
    """One score from per-step scores: the last step's, the worst, the product, or the mean."""
    if not scores:
        return None
    if how == "last":
        return float(scores[-1])
    if how == "min":
        return float(min(scores))
    if how == "prod":
        return float(math.prod(scores))
    if how == "mean":
        return float(sum(scores) / len(scores))
    raise ValueError(f"unknown step aggregation {how!r}; known: {', '.join(AGGREGATIONS)}")


def row(score: float | None, status: str = "ok", steps: Sequence[float] | None = None,
        ends: Sequence[int] | None = None, default: str = DEFAULT_AGGREGATION) -> dict[str, Any]:
    """A score-shard row; process scores keep every aggregation, `score` is the configured one."""
    out = {"score": score, "status": status, "step_scores": None, "step_ends": None,
           "score_last": None, "score_min": None, "score_prod": None, "score_mean": None}
    if steps is not None:
        out["step_scores"] = [float(s) for s in steps]
        out["step_ends"] = [int(e) for e in ends or []]
        for how in AGGREGATIONS:
            out[f"score_{how}"] = aggregate(steps, how)
        out["score"] = aggregate(steps, default)
    return out


class Scorer:
    """Base class: `score(items)` returns one row per item (see `row`), in order."""

    kind = "base"

    def __init__(self, name: str, spec: dict[str, Any], config: dict[str, Any], root: Path,
                 threads: int | None = None) -> None:
        self.name, self.spec, self.config, self.root, self.threads = name, spec, config, root, threads

    def score(self, items: list[Item]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def close(self) -> None:
        """Release the engine."""
