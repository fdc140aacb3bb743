"""The loader interface and the problem record every loader yields."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttscale.errors import ConfigError


@dataclass
class Problem:
    """One problem as a loader sees it, before prompts are rendered."""

    problem_id: str
    question: str
    answer: str | None = None
    tests: str | None = None
    test_style: str | None = None
    entry_point: str | None = None
    solution: str | None = None
    level: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class Loader:
    """Base class: `load()` yields problems in the dataset's own stable order.

    `size()` must be cheap (it runs when Snakemake plans the blocks); return None only if the
    size cannot be known without loading, and the planner then loads once.
    """

    task: str = "other"
    required_args: tuple[str, ...] = ()
    # False when size() has to load the whole dataset (hub datasets); the planner then trusts
    # `limit` and the problems stage checks it.
    cheap_size: bool = True
    # Arguments that only say how many problems to generate, not what problem i is; growing them
    # must add blocks, not change the dataset's identity (and with it every sampling key).
    size_args: tuple[str, ...] = ()

    def __init__(self, name: str, args: dict[str, Any], root: Path) -> None:
        self.name = name
        self.args = args
        self.root = root
        for key in self.required_args:
            if key not in args:
                raise ConfigError(f"datasets.{name}.args: loader needs {key!r}")

    def default_task(self) -> str:
        return self.task

    def size(self) -> int | None:
        return None

    def load(self) -> Iterator[Problem]:
        raise NotImplementedError

    def path_arg(self, key: str = "path") -> Path:
        p = Path(str(self.args[key])).expanduser()
        p = p if p.is_absolute() else self.root / p
        if not p.exists():
            raise ConfigError(f"datasets.{self.name}.args.{key}: {p} does not exist")
        return p
