"""What every importer shares: the problems and samples it reads, and the IMPORTERS registry.

In a module of its own so that the importer modules (jsonl in the package, llmonk, lmeval,
evalharness) register themselves without importing the package that imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ttscale.registry import Registry


@dataclass
class Sample:
    text: str
    prompt: str = ""
    correct: bool | None = None
    answer: str | None = None
    answer_key: str | None = None
    status: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cumulative_logprob: float | None = None
    finish_reason: str = "stop"
    scores: dict[str, float | None] = field(default_factory=dict)


@dataclass
class Problem:
    problem_id: str
    question: str = ""
    prompt: str = ""
    reference: str | None = None
    tests: str | None = None
    test_style: str | None = None
    level: str | None = None
    task: str = "other"
    metadata: dict[str, Any] = field(default_factory=dict)
    samples: dict[int, Sample] = field(default_factory=dict)
    extractor: str | None = None  # the source's answer rule (importers.extractors): votes group by it alone


Reader = Callable[..., list[Problem]]  # (source, **options) -> problems
IMPORTERS: Registry[Reader] = Registry("importer")
