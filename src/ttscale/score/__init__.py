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
from ttscale.registry import Registry
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


def make_scorer(name: str, config: dict[str, Any], root: Path | None = None, threads: int | None = None) -> Scorer:
    """The scorer `name` of the config, with its family's defaults, ready to score."""
    spec = resolve(config["scorers"][name])
    cls = SCORERS.get(spec.get("kind") or "generative", f"scorers.{name}.kind")
    return cls(name, spec, config, root or Path.cwd(), threads)


def score_block(config: dict[str, Any], scorer: str, samples_path: str | Path, problems_path: str | Path,
                output: str | Path, threads: int | None = None, root: Path | None = None,
                instance: Scorer | None = None) -> dict[str, Any]:
    """Score one sample shard: one row per sample, a score or an explicit status each."""
    start = time.time()
    samples = read_table(samples_path, SAMPLES)
    problems = {r["problem_id"]: r for r in read_table(problems_path, PROBLEMS).to_pylist()}
    rows = samples.select(["problem_id", "sample_index", "text", "cumulative_logprob", "completion_tokens"]).to_pylist()
    missing = {r["problem_id"] for r in rows} - set(problems)
    if missing:
        raise DataError(f"{samples_path}: problems {sorted(missing)[:5]} are not in {problems_path}")
    items = [Item(problems[r["problem_id"]]["question"],
                  (problems[r["problem_id"]]["assistant_prefix"] or "") + (r["text"] or ""),
                  r["cumulative_logprob"], r["completion_tokens"] or 0) for r in rows]
    own = instance is None
    s = instance or make_scorer(scorer, config, root, threads)
    try:
        results = s.score(items)
        described = s.describe()
    finally:
        if own:
            s.close()
    if len(results) != len(rows):
        raise DataError(f"{output}: scorer {scorer} returned {len(results)} scores for {len(rows)} samples")
    bad = {r["status"] for r in results} - set(SCORE_STATUSES)
    if bad:
        raise DataError(f"scorer {scorer} returned unknown statuses {sorted(bad)}")
    table = pa.Table.from_pylist(
        [{"problem_id": r["problem_id"], "sample_index": r["sample_index"], **res}
         for r, res in zip(rows, results, strict=True)],
        schema=SCORES,
    )
    counts = Counter(r["status"] for r in results)
    summary = {"scorer": scorer, "samples": str(samples_path), "rows": table.num_rows, "statuses": dict(counts),
               "engine": described, "seconds": round(time.time() - start, 3),
               "samples_per_second": round(table.num_rows / max(time.time() - start, 1e-9), 1)}
    write_table(output, table, SCORES, metadata=summary)
    log.info("wrote %s: %d scores %s in %.1fs", output, table.num_rows, dict(counts), time.time() - start)
    return summary
