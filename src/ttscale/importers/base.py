"""What every importer shares: the problems and samples it reads, and the IMPORTERS registry.

In a module of its own so that the importer modules (jsonl in the package, llmonk, lmeval,
evalharness) register themselves without importing the package that imports them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttscale.errors import DataError
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
    origin: str = ""  # the file (and record) it came from, for errors


Reader = Callable[..., Any]  # (source, **options) -> a list of problems or a ProblemStream
IMPORTERS: Registry[Reader] = Registry("importer")


class ProblemStream:
    """A reader's problems produced one by one, in order, with their count known up front, so an
    import writes each group of problems' shards as soon as it is read and holds no more than that."""

    def __init__(self, count: int, items: Iterator[Problem]) -> None:
        self.count, self.items = count, items

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Problem]:
        return self.items


def jsonl_objects(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`file:line`, object) for every non-blank line of a JSON Lines file; a line that is not JSON, or
    not an object, is a DataError naming the file and line."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: not JSON ({exc})") from None
            if not isinstance(rec, dict):
                raise DataError(f"{where}: expected an object, got {type(rec).__name__}")
            yield where, rec
