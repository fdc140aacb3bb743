"""Atomic writes and schema-checked reads.

Every file is written under a temporary name in its own directory and renamed into place, so a
job killed half-way never leaves a file that looks complete (rename is atomic on POSIX file
systems, including the shared file systems of clusters, within one directory).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ttscale.errors import DataError

META_KEY = b"ttscale"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()  # read once: setting it is process-wide, not safe while threads create files


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it to `path` if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file private (0600); results are shared (group members on a cluster),
        # so give it the mode any new file gets under the user's umask
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_table(
    path: str | os.PathLike[str],
    table: pa.Table,
    schema: pa.Schema | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Write `table` as Parquet, cast to `schema`, with `metadata` stored as JSON under 'ttscale'."""
    if schema is not None:
        missing = [f.name for f in schema if f.name not in table.column_names]
        if missing:
            raise DataError(f"{path}: table to write lacks columns {missing}")
        table = table.select(schema.names).cast(schema)
    if metadata is not None:
        meta = dict(table.schema.metadata or {})
        meta[META_KEY] = json.dumps(metadata, sort_keys=True, default=str).encode()
        table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def check_schema(table_schema: pa.Schema, expected: pa.Schema, where: str) -> None:
    """Raise DataError naming `where` and the first missing or mistyped column."""
    for field in expected:
        idx = table_schema.get_field_index(field.name)
        if idx < 0 and optional(field):
            continue
        if idx < 0:
            raise DataError(f"{where}: missing column {field.name!r} (expected {field.type})")
        got = table_schema.field(idx).type
        if got != field.type and not _compatible(got, field.type):
            raise DataError(f"{where}: column {field.name!r} has type {got}, expected {field.type}")


def optional(field: pa.Field) -> bool:
    """A column added to a schema later: files written before it lack it and read with nulls."""
    return bool(field.metadata) and field.metadata.get(b"optional") == b"true"


def _compatible(got: pa.DataType, want: pa.DataType) -> bool:
    # Large and small string/list variants carry the same data; accept either.
    pairs = [(pa.large_string(), pa.string()), (pa.string(), pa.large_string())]
    if (got, want) in pairs:
        return True
    if pa.types.is_list(want) and (pa.types.is_large_list(got) or pa.types.is_list(got)):
        return _compatible(got.value_type, want.value_type) or got.value_type == want.value_type
    return False


def read_table(
    path: str | os.PathLike[str],
    schema: pa.Schema | None = None,
    columns: list[str] | None = None,
) -> pa.Table:
    """Read a Parquet file, checking its columns against `schema` (naming the file on error)."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: file does not exist")
    try:
        file_schema = pq.read_schema(p)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{p}: not a readable Parquet file ({exc})") from exc
    if schema is not None:
        check_schema(file_schema, schema, str(p))
    absent = [f for f in schema if optional(f) and f.name not in file_schema.names] if schema is not None else []
    wanted = columns if columns is None else [c for c in columns if c not in {f.name for f in absent}]
    table = pq.read_table(p, columns=wanted)
    for f in absent:
        if columns is None or f.name in columns:
            table = table.append_column(f, pa.nulls(table.num_rows, f.type))
    if schema is not None and columns is None:
        table = table.select(schema.names).cast(schema)
    elif columns is not None and absent:
        table = table.select(columns)
    return table


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON metadata a shard was written with (empty if none)."""
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(META_KEY)
    return json.loads(raw) if raw else {}


def read_run(path: str | os.PathLike[str], columns: list[str] | None = None, sampling: str | None = None) -> pa.Table:
    """A run's table (aggregate or analysis), only the rows of `sampling` when given: a search run's
    tables hold every budget it spans, each under its own label (ttscale.keys.budget_label)."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: file does not exist")
    if sampling is None:
        return pq.read_table(p, columns=columns)
    names = pq.read_schema(p).names
    want = None if columns is None else list(dict.fromkeys([*columns, *(["sampling"] if "sampling" in names else [])]))
    table = pq.read_table(p, columns=want)
    if "sampling" in names:
        mask = pc.equal(table["sampling"], sampling)
        table = table.filter(mask)
    return table if columns is None else table.select(columns)
