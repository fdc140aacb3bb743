"""The verify stage: one verdict shard per sample shard, every sample exactly one verdict."""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from ttscale.errors import DataError
from ttscale.io import read_table, write_table
from ttscale.reasoning import answer_rows, read_spans
from ttscale.reuse import identity_hash, merged, reusable_rows, sample_rows, samples_digest
from ttscale.schemas import PROBLEMS, SAMPLES, VERDICT_STATUSES, VERDICTS
from ttscale.verify import reference, repository  # noqa: F401  (repository registers the swebench verifier)
from ttscale.verify.extended import load_extended
from ttscale.verify.sandbox import SANDBOXES
from ttscale.verify.verifiers import VERIFIERS, verdict, verifier_for

log = logging.getLogger(__name__)

__all__ = ["SANDBOXES", "VERIFIERS", "verify_block", "verify_items"]

DEFAULT_BY_TASK = {"code": "code", "math": "math", "repo": "swebench", "other": "auto"}
REUSE_COLUMNS = ("text",)  # what a verdict reads of its sample (with the problem)


def verify_items(items: list[dict[str, Any]], settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Verdicts for joined (sample, problem) dicts, in the same order, one each."""
    by_task = {**DEFAULT_BY_TASK, **(settings.get("by_task") or {})}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        meta = json.loads(it.get("metadata") or "{}")
        groups[verifier_for(it.get("task") or "other", meta, by_task)].append(i)
    out: list[dict[str, Any] | None] = [None] * len(items)
    for name, idx in groups.items():
        verifier = VERIFIERS.get(name, "verify.by_task")(settings)
        for i, v in zip(idx, verifier.verify([items[i] for i in idx]), strict=True):
            if v["status"] not in VERDICT_STATUSES:
                raise DataError(f"verifier {name} returned unknown status {v['status']!r}")
            out[i] = v
    if any(v is None for v in out):
        raise DataError("a sample got no verdict")
    return out  # type: ignore[return-value]


def verify_block(samples_path: str | Path, problems_path: str | Path, output: str | Path,
                 settings: dict[str, Any], threads: int = 1, identity: str | Path | None = None,
                 audit: str | Path | None = None, extended: str | Path | None = None) -> dict[str, Any]:
    """Verify one sample shard into its verdict shard (same rows, same order).

    With `identity` (the dataset's verify identity file), samples that a sibling verdict shard made
    under the same identity already judged, with the same text, keep that verdict
    (ttscale.reuse: a grown problem block verifies only its new problems' samples). With `extended`
    (the dataset's extended-tests table), a code sample that passes its base tests also runs those.
    """
    start = time.time()
    samples = read_table(samples_path, SAMPLES, columns=None)
    problems = {r["problem_id"]: r for r in read_table(problems_path, PROBLEMS).to_pylist()}
    rows = samples.select(["problem_id", "sample_index", "text"]).to_pylist()
    missing = {r["problem_id"] for r in rows} - set(problems)
    if missing:
        raise DataError(f"{samples_path}: problems {sorted(missing)[:5]} are not in {problems_path}")
    keys, values = sample_rows(rows, REUSE_COLUMNS)
    ident = identity_hash(identity)
    reused, sources = reusable_rows(output, samples_path, keys, values, REUSE_COLUMNS, ident, VERDICTS)
    settings = {**settings, "workers": settings.get("workers") or threads}
    # a reasoning model's shard: verifiers read the answer after the thinking; an unclosed block is no_answer
    ext = load_extended(extended)  # a code dataset's extended tests: samples that pass the base tests run them
    items, unanswered = answer_rows([{**problems[r["problem_id"]], **r, "extended": ext.get(r["problem_id"])}
                                     for r in rows], read_spans(samples_path))
    todo = [i for i in range(len(rows)) if i not in reused]
    judge = [items[i] for i in todo if i not in unanswered]
    reference.apply(judge, settings, audit)  # verify.reference_limits: CPU limits from the gold audit
    judged = iter(verify_items(judge, settings))
    fresh = [verdict("no_answer", tail=unanswered[i]) if i in unanswered else next(judged) for i in todo]
    verdicts = merged(rows, reused, fresh)
    table = pa.Table.from_pylist(verdicts, schema=VERDICTS)
    if table.num_rows != samples.num_rows:
        raise DataError(f"{output}: {table.num_rows} verdicts for {samples.num_rows} samples in {samples_path}")
    counts: dict[str, int] = defaultdict(int)
    for v in verdicts:
        counts[v["status"]] += 1
    summary = {"samples": str(samples_path), "rows": table.num_rows, "statuses": dict(counts),
               "backend": settings.get("backend"), "reused": len(reused), "reused_from": sources,
               "seconds": round(time.time() - start, 3)}
    if ext:  # passed the base tests, failed the extended ones
        summary["false_positives"] = sum(bool(v["correct"] and v.get("correct_extended") is False) for v in verdicts)
    if ident:
        summary.update(identity=ident, samples_digest=samples_digest(keys, values))
    write_table(output, table, VERDICTS, metadata=summary)
    log.info("wrote %s: %d verdicts %s in %.1fs (%d reused from %s)", output, table.num_rows, dict(counts),
             time.time() - start, len(reused), ", ".join(sources) or "none")
    return summary
