"""Per-sample results of a grown block, taken from the shard under its old name (verify, score).

Adding problems renames a dataset's last problem block (p00000-00010 -> p00000-00011); the
generate stage copies the samples that block already had (ttscale.generate.reusable_results) and
the stages after it do the same here, so only the new problems' samples are verified and scored.
A verdict or score shard records the hash of its stage's identity file and a digest of the sample
columns it read. A sibling result shard lends its rows only if its identity hash is ours, its own
sample shard still has the digest it recorded (it was not regenerated since), and the sample's
columns that the stage reads (the text; for scores also its log-probability and length) are the
same in both sample shards. Anything else, including an unreadable sibling, means the
sample is verified or scored again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from ttscale.blocks import Block
from ttscale.errors import DataError
from ttscale.io import read_metadata, read_table

log = logging.getLogger(__name__)

Key = tuple[str, int]


def identity_hash(path: str | Path | None) -> str | None:
    """sha256 of a stage's identity file (canonical JSON of what decides its results); None without one."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else None


def samples_digest(keys: Sequence[Key], values: Sequence[tuple]) -> str:
    """Digest of a sample shard's rows as a stage reads them: problem id, index and the stage's columns."""
    h = hashlib.sha256()
    for (pid, idx), vals in zip(keys, values, strict=True):
        h.update(json.dumps([pid, idx, *vals], ensure_ascii=False).encode("utf-8", "surrogatepass"))
        h.update(b"\n")
    return h.hexdigest()


def sample_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> tuple[list[Key], list[tuple]]:
    """(problem id, index) and the values of `columns`, per sample row."""
    return ([(r["problem_id"], r["sample_index"]) for r in rows], [tuple(r[c] for c in columns) for r in rows])


def sibling_blocks(output: Path, keep: Callable[[Block], bool]) -> Iterator[Path]:
    """Block shards next to `output`, not itself, whose block `keep` accepts (other files are skipped)."""
    for path in sorted(output.parent.glob("*.parquet")):
        if path.name == output.name:
            continue
        try:
            block = Block.parse(path.stem)
        except DataError:
            continue  # not a block shard
        if keep(block):
            yield path


def _siblings(output: Path) -> Iterator[Path]:
    """Result shards next to `output` whose block overlaps its problem positions and sample range."""
    try:
        me = Block.parse(output.stem)
    except DataError:
        return iter(())
    return sibling_blocks(output, lambda b: b.p0 < me.p1 and me.p0 < b.p1 and b.s0 < me.s1 and me.s0 < b.s1)


def _lend(path: Path, samples_dir: Path, identity: str, wanted: dict[Key, int], values: Sequence[tuple],
          columns: Sequence[str], schema: pa.Schema) -> dict[int, dict[str, Any]]:
    meta = read_metadata(path)
    if meta.get("identity") != identity or not meta.get("samples_digest"):
        return {}
    old = read_table(samples_dir / path.name, columns=["problem_id", "sample_index", *columns]).to_pylist()
    old_keys, old_values = sample_rows(old, columns)
    if samples_digest(old_keys, old_values) != meta["samples_digest"]:
        log.info("not reusing %s: its sample shard changed after it was written", path)
        return {}
    same = {key for key, vals in zip(old_keys, old_values, strict=True)
            if key in wanted and vals == values[wanted[key]]}
    if not same:
        return {}
    rows = read_table(path, schema).to_pylist()
    if len(rows) != len(old_keys):
        raise DataError(f"{path}: {len(rows)} rows for {len(old_keys)} samples")
    return {wanted[(r["problem_id"], r["sample_index"])]: r for r in rows
            if (r["problem_id"], r["sample_index"]) in same}


def gather(paths: Iterable[Path], wanted: dict[Any, int], lend: Callable[[Path, dict[Any, int]], dict[int, Any]],
           what: str) -> tuple[dict[int, Any], list[str]]:
    """Ask each shard in turn for the wanted items (key -> index) not found yet; `lend` returns index
    -> item. A shard that cannot lend (damaged, foreign) is skipped with a warning, never an error.
    Returns the items found and the names of the shards they came from."""
    found: dict[int, Any] = {}
    used: list[str] = []
    for path in paths:
        if len(found) == len(wanted):
            break
        try:
            hits = lend(path, {k: i for k, i in wanted.items() if i not in found})
        except Exception as exc:  # a damaged or foreign file must never stop the block
            log.warning("not reusing %s from %s: %s: %s", what, path, type(exc).__name__, exc)
            continue
        if hits:
            found.update(hits)
            used.append(path.name)
    return found, used


def reusable_rows(output: str | Path, samples_path: str | Path, keys: Sequence[Key], values: Sequence[tuple],
                  columns: Sequence[str], identity: str | None,
                  schema: pa.Schema) -> tuple[dict[int, dict[str, Any]], list[str]]:
    """Rows (by position in `keys`) that sibling result shards of `output` already hold for these
    samples (`values`: each row's `columns`), and the names of the shards they came from. Nothing
    without an identity."""
    if not identity or not keys:
        return {}, []
    samples_dir = Path(samples_path).parent
    return gather(_siblings(Path(output)), {key: i for i, key in enumerate(keys)},
                  lambda path, wanted: _lend(path, samples_dir, identity, wanted, values, columns, schema), "results")


def merged(rows: Sequence[dict[str, Any]], reused: dict[int, dict[str, Any]],
           fresh: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One result row per sample row, in order: the reused row where there is one, else the next
    fresh result (made for the other rows, in order) under the sample's problem id and index."""
    if len(fresh) != len(rows) - len(reused):
        raise DataError(f"{len(fresh)} new results for {len(rows) - len(reused)} samples not reused")
    it = iter(fresh)
    return [reused[i] if i in reused else {"problem_id": r["problem_id"], "sample_index": r["sample_index"],
                                           **next(it)} for i, r in enumerate(rows)]
