"""Mapping a table's columns onto the problem record (used by the jsonl, parquet and HF loaders)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from ttscale.errors import ConfigError
from ttscale.problems.base import Problem

FIELDS = ("problem_id", "question", "answer", "tests", "test_style", "entry_point", "solution", "level")


def map_rows(
    rows: Iterable[dict[str, Any]],
    columns: dict[str, str],
    where: str,
    id_prefix: str = "",
) -> Iterator[Problem]:
    """Yield problems from rows; `columns` maps problem fields to row keys.

    Without a `problem_id` column the row's position is the id (stable only while the file
    keeps its order, which the docs say). Unmapped row keys go to metadata.
    """
    unknown = set(columns) - set(FIELDS)
    if unknown:
        raise ConfigError(f"{where}.columns: unknown fields {sorted(unknown)}; known: {list(FIELDS)}")
    if "question" not in columns:
        columns = {**columns, "question": "question"}
    used = set(columns.values())
    for i, row in enumerate(rows):
        missing = [c for f, c in columns.items() if c not in row and f in ("question", "problem_id")]
        if missing:
            raise ConfigError(
                f"{where}: row {i} has no column {missing[0]!r}; columns are {sorted(row)}"
            )
        values = {f: _text(row.get(c)) for f, c in columns.items()}
        pid = values.pop("problem_id", None) or f"{id_prefix}{i}"
        meta = {k: v for k, v in row.items() if k not in used}
        yield Problem(problem_id=pid, metadata=json.loads(json.dumps(meta, default=str)), **values)


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    return json.dumps(v, default=str)
