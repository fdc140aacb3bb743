"""The score stage: reward models, generative verifiers and free baselines over the sample shards."""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from ttscale.errors import DataError
from ttscale.io import read_table, write_table
from ttscale.reasoning import answer_rows, read_spans
from ttscale.registry import Registry
from ttscale.reuse import identity_hash, merged, reusable_rows, sample_rows, samples_digest
from ttscale.schemas import PROBLEMS, SAMPLES, SCORE_STATUSES, SCORES
from ttscale.score.base import Item, Scorer
from ttscale.score.families import FAMILIES, resolve
from ttscale.score.generative import GenerativeScorer, LogprobScorer
from ttscale.score.reward import OutcomeScorer, ProcessScorer

log = logging.getLogger(__name__)

SCORERS: Registry[type[Scorer]] = Registry("scorer kind")
SCORERS.register("generative")(GenerativeScorer)
SCORERS.register("logprob")(LogprobScorer)
SCORERS.register("outcome")(OutcomeScorer)
SCORERS.register("process")(ProcessScorer)

__all__ = ["FAMILIES", "SCORERS", "Item", "make_scorer", "score_block"]

REUSE_COLUMNS = ("text", "cumulative_logprob", "completion_tokens")  # what a score reads of its sample


def make_scorer(name: str, config: dict[str, Any], root: Path | None = None, threads: int | None = None) -> Scorer:
    """The scorer `name` of the config, with its family's defaults, ready to score."""
    spec = resolve(config["scorers"][name])
    cls = SCORERS.get(spec.get("kind") or "generative", f"scorers.{name}.kind")
    return cls(name, spec, config, root or Path.cwd(), threads)


def score_block(config: dict[str, Any], scorer: str, samples_path: str | Path, problems_path: str | Path,
                output: str | Path, threads: int | None = None, root: Path | None = None,
                instance: Scorer | None = None, identity: str | Path | None = None) -> dict[str, Any]:
    """Score one sample shard: one row per sample, a score or an explicit status each.

    With `identity` (the scorer's identity file), samples that a sibling score shard made under the
    same identity already scored, with the same text, log-probability and length, keep that score
    (ttscale.reuse); a block whose samples are all scored so loads no model.
    """
    start = time.time()
    samples = read_table(samples_path, SAMPLES)
    problems = {r["problem_id"]: r for r in read_table(problems_path, PROBLEMS).to_pylist()}
    rows = samples.select(["problem_id", "sample_index", "text", "cumulative_logprob", "completion_tokens"]).to_pylist()
    missing = {r["problem_id"] for r in rows} - set(problems)
    if missing:
        raise DataError(f"{samples_path}: problems {sorted(missing)[:5]} are not in {problems_path}")
    keys, values = sample_rows(rows, REUSE_COLUMNS)
    ident = identity_hash(identity)
    reused, sources = reusable_rows(output, samples_path, keys, values, REUSE_COLUMNS, ident, SCORES)
    view = [{**r, "assistant_prefix": problems[r["problem_id"]]["assistant_prefix"]} for r in rows]
    if (resolve(config["scorers"][scorer]).get("reads") or "answer") == "answer":
        view, _ = answer_rows(view, read_spans(samples_path))  # a reasoning model's answer, not its thinking
    todo = [view[i] for i in range(len(rows)) if i not in reused]
    items = [Item(problems[r["problem_id"]]["question"], (r["assistant_prefix"] or "") + (r["text"] or ""),
                  r["cumulative_logprob"], r["completion_tokens"] or 0) for r in todo]
    results: list[dict[str, Any]] = []
    described: Any = None
    if items:
        own = instance is None
        s = instance or make_scorer(scorer, config, root, threads)
        try:
            results = s.score(items)
            described = s.describe()
        finally:
            if own:
                s.close()
    if len(results) != len(todo):
        raise DataError(f"{output}: scorer {scorer} returned {len(results)} scores for {len(todo)} samples")
    bad = {r["status"] for r in results} - set(SCORE_STATUSES)
    if bad:
        raise DataError(f"scorer {scorer} returned unknown statuses {sorted(bad)}")
    out = merged(rows, reused, results)
    table = pa.Table.from_pylist(out, schema=SCORES)
    if table.num_rows != samples.num_rows:
        raise DataError(f"{output}: {table.num_rows} scores for {samples.num_rows} samples in {samples_path}")
    counts = Counter(r["status"] for r in out)
    summary = {"scorer": scorer, "samples": str(samples_path), "rows": table.num_rows, "statuses": dict(counts),
               "engine": described, "reused": len(reused), "reused_from": sources,
               "seconds": round(time.time() - start, 3),
               "samples_per_second": round(len(todo) / max(time.time() - start, 1e-9), 1)}
    if ident:
        summary.update(identity=ident, samples_digest=samples_digest(keys, values))
    write_table(output, table, SCORES, metadata=summary)
    log.info("wrote %s: %d scores %s in %.1fs (%d reused from %s)", output, table.num_rows, dict(counts),
             time.time() - start, len(reused), ", ".join(sources) or "none")
    return summary
