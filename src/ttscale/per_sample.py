"""The outline of a stage that writes one row per sample of a shard (verify, score, and the next).

Read the sample shard and the problem table -> check every sample's problem is there -> take the
rows a sibling shard made under the same identity (ttscale.reuse) -> compute the rest -> merge in
sample order -> check the counts -> summarize -> write atomically. The stage supplies only what it
reads of a sample, its output schema and `compute`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from ttscale.errors import DataError
from ttscale.io import read_table, write_table
from ttscale.reuse import identity_hash, merged, reusable_rows, sample_rows, samples_digest
from ttscale.schemas import PROBLEMS, SAMPLES

log = logging.getLogger(__name__)

# (indices of the rows to compute, every row of the shard, the problem table by id) -> one result row
# per index; all rows are passed because what a stage reads of a row may depend on the whole shard
# (a reasoning model's answer spans)
Compute = Callable[[list[int], list[dict[str, Any]], dict[str, dict[str, Any]]], list[dict[str, Any]]]


@dataclass
class PerSampleStage:
    """What a per-sample stage is: its results' name, what it reads, how it computes, its schema."""

    noun: str  # "verdicts", "scores": in messages and the log line
    columns: list[str]  # sample columns its rows carry (problem_id and sample_index first)
    reuse_columns: tuple[str, ...]  # the sample columns its result depends on (besides the problem)
    schema: pa.Schema
    compute: Compute
    head: dict[str, Any] = field(default_factory=dict)  # summary keys before the common ones
    # summary keys after the statuses (engine, backend), filled in once compute has run
    details: Callable[[], dict[str, Any]] = dict
    rate: bool = False  # add samples_per_second (computed samples over the block's time)
    # summary keys after the common ones, from all of the block's result rows
    extra: Callable[[list[dict[str, Any]]], dict[str, Any]] = lambda rows: {}


def run_per_sample(stage: PerSampleStage, samples_path: str | Path, problems_path: str | Path, output: str | Path,
              identity: str | Path | None = None) -> dict[str, Any]:
    """Write `output`, one row per sample of `samples_path` in its order; returns the summary."""
    start = time.time()
    samples = read_table(samples_path, SAMPLES)
    problems = {r["problem_id"]: r for r in read_table(problems_path, PROBLEMS).to_pylist()}
    rows = samples.select(stage.columns).to_pylist()
    missing = {r["problem_id"] for r in rows} - set(problems)
    if missing:
        raise DataError(f"{samples_path}: problems {sorted(missing)[:5]} are not in {problems_path}")
    keys, values = sample_rows(rows, stage.reuse_columns)
    ident = identity_hash(identity)
    reused, sources = reusable_rows(output, samples_path, keys, values, stage.reuse_columns, ident, stage.schema)
    todo = [i for i in range(len(rows)) if i not in reused]
    fresh = stage.compute(todo, rows, problems)
    if len(fresh) != len(todo):
        raise DataError(f"{output}: {len(fresh)} {stage.noun} computed for {len(todo)} samples")
    out = merged(rows, reused, fresh)
    table = pa.Table.from_pylist(out, schema=stage.schema)
    if table.num_rows != samples.num_rows:
        raise DataError(f"{output}: {table.num_rows} {stage.noun} for {samples.num_rows} samples in {samples_path}")
    counts = Counter(r["status"] for r in out)
    summary = {**stage.head, "samples": str(samples_path), "rows": table.num_rows, "statuses": dict(counts),
               **stage.details(), "reused": len(reused), "reused_from": sources,
               "seconds": round(time.time() - start, 3)}
    if stage.rate:
        summary["samples_per_second"] = round(len(todo) / max(time.time() - start, 1e-9), 1)
    summary.update(stage.extra(out))
    if ident:
        summary.update(identity=ident, samples_digest=samples_digest(keys, values))
    write_table(output, table, stage.schema, metadata=summary)
    log.info("wrote %s: %d %s %s in %.1fs (%d reused from %s)", output, table.num_rows, stage.noun, dict(counts),
             time.time() - start, len(reused), ", ".join(sources) or "none")
    return summary
