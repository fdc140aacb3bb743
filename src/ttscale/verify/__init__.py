"""The verify stage: one verdict shard per sample shard, every sample exactly one verdict."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

from ttscale.config import register_check
from ttscale.errors import DataError
from ttscale.keys import DEFAULT_BY_TASK
from ttscale.per_sample import PerSampleStage, run_per_sample
from ttscale.reasoning import answer_rows, read_spans
from ttscale.schemas import VERDICT_STATUSES, VERDICTS
from ttscale.verify import reference, repository  # noqa: F401  (repository registers the swebench verifier)
from ttscale.verify.extended import load_extended
from ttscale.verify.sandbox import SANDBOXES
from ttscale.verify.verifiers import VERIFIERS, verdict, verifier_for

log = logging.getLogger(__name__)

__all__ = ["SANDBOXES", "VERIFIERS", "verify_block", "verify_items"]


@register_check("verify", __name__)
def check_verify(config: dict[str, Any], source: str, root: Path) -> None:
    """The sandbox backend is a known one (whether it runs here is checked when verification starts)."""
    SANDBOXES.get((config.get("verify") or {}).get("backend", "docker"), f"{source}: verify.backend")

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
    settings = {**settings, "workers": settings.get("workers") or threads}
    ext = load_extended(extended)  # a code dataset's extended tests: samples that pass the base tests run them

    def compute(todo: list[int], rows: list[dict[str, Any]], problems: dict[str, dict[str, Any]]
                ) -> list[dict[str, Any]]:
        # a reasoning model's shard: verifiers read the answer after the thinking; an unclosed block is no_answer
        items, unanswered = answer_rows([{**problems[r["problem_id"]], **r, "extended": ext.get(r["problem_id"])}
                                         for r in rows], read_spans(samples_path))
        judge = [items[i] for i in todo if i not in unanswered]
        reference.apply(judge, settings, audit)  # verify.reference_limits: CPU limits from the gold audit
        judged = iter(verify_items(judge, settings))
        return [verdict("no_answer", tail=unanswered[i]) if i in unanswered else next(judged) for i in todo]

    def summarize(verdicts: list[dict[str, Any]]) -> dict[str, Any]:
        if not ext:
            return {}
        # passed the base tests, failed the extended ones
        return {"false_positives": sum(bool(v["correct"] and v.get("correct_extended") is False) for v in verdicts)}

    stage = PerSampleStage("verdicts", ["problem_id", "sample_index", "text"], REUSE_COLUMNS, VERDICTS, compute,
                           details=lambda: {"backend": settings.get("backend")}, extra=summarize)
    return run_per_sample(stage, samples_path, problems_path, output, identity)
