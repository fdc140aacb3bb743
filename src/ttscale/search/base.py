"""What a search strategy works on: beams of steps, a step generator and a step scorer.

A strategy never talks to an engine directly. Each step of a search collects the requests of every
beam of every problem of the job and makes one generator call and one scorer call, so the engine
batches across problems (and prefix caching shares each problem's prompt).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ttscale.generate.base import Request, Result
from ttscale.generate.progress import Progress


@dataclass
class Beam:
    """One partial (or finished) solution: its steps, their scores and what it cost."""

    slot: int  # stable id within its problem, for deterministic tie-breaking
    steps: list[str] = field(default_factory=list)  # each step as generated, delimiter included
    step_scores: list[float] = field(default_factory=list)
    done: bool = False
    finish_reason: str = ""
    completion_tokens: int = 0
    cumulative_logprob: float = 0.0
    parent: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # a strategy's own per-answer columns

    @property
    def text(self) -> str:
        return "".join(self.steps)

    def child(self, slot: int) -> Beam:
        return Beam(slot, list(self.steps), list(self.step_scores), False, "", self.completion_tokens,
                    self.cumulative_logprob, self.slot)


@dataclass
class Accounting:
    """Tokens one problem's search spent: everything sent and generated, pruned beams included."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    scored_tokens: int = 0
    generator_calls: int = 0

    def add(self, result: Result) -> None:
        self.prompt_tokens += result.prompt_tokens
        self.completion_tokens += result.completion_tokens
        self.generator_calls += 1


class StepGenerator(Protocol):
    """Anything with a generation backend's `generate` (ttscale.generate.base.Backend)."""

    def generate(self, requests: list[Request], progress: Progress, journal=None) -> list[Result]: ...


class StepScorer(Protocol):
    """Per-step scores for a batch of (question, steps) pairs, one list per pair (a PRM).

    A scorer that counts its cost also sets `last_token_counts` in each call: one number per pair,
    the tokens it read for that pair (summed over prefixes if it scores each prefix separately),
    which the search adds to the pair's problem as `search_scored_tokens`.
    """

    def score_steps(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]: ...


def aggregate(scores: Sequence[float], how: str) -> float:
    """Reduce per-step scores to one beam score (last, min, prod or mean); no steps scores -inf."""
    if not scores:
        return float("-inf")
    if how == "last":
        return float(scores[-1])
    if how == "min":
        return float(min(scores))
    if how == "mean":
        return float(sum(scores) / len(scores))
    if how == "prod":
        out = 1.0
        for s in scores:
            out *= s
        return out
    raise ValueError(f"unknown step aggregation {how!r}; known: last, min, prod, mean")


def rank(beams: Sequence[Beam], how: str) -> list[Beam]:
    """Best first by aggregated score; ties go to the lower slot, so searches are reproducible."""
    return sorted(beams, key=lambda b: (-aggregate(b.step_scores, how), b.slot))
