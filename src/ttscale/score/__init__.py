"""The score stage: reward models, generative verifiers and free baselines over the sample shards."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ttscale.config import register_check
from ttscale.errors import DataError
from ttscale.models.families import FAMILIES, resolve
from ttscale.per_sample import PerSampleStage, run_per_sample
from ttscale.reasoning import answer_rows, read_spans
from ttscale.registry import Registry
from ttscale.schemas import SCORE_STATUSES, SCORES
from ttscale.score.base import Item, Scorer
from ttscale.score.generative import GenerativeScorer, LogprobScorer
from ttscale.score.reward import OutcomeScorer, ProcessScorer

log = logging.getLogger(__name__)

SCORERS: Registry[type[Scorer]] = Registry("scorer kind")
SCORERS.register("generative")(GenerativeScorer)
SCORERS.register("logprob")(LogprobScorer)
SCORERS.register("outcome")(OutcomeScorer)
SCORERS.register("process")(ProcessScorer)

__all__ = ["FAMILIES", "SCORERS", "Item", "make_scorer", "score_block"]



@register_check("scorers", __name__)
def check_scorers(config: dict[str, Any], source: str, root: Path) -> None:
    """Every scorer names a known family (if any) and kind."""
    for name, raw in (config.get("scorers") or {}).items():
        if raw.get("family"):
            FAMILIES.get(raw["family"], f"{source}: scorers.{name}.family")
        SCORERS.get(resolve(raw).get("kind") or "generative", f"{source}: scorers.{name}.kind")

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
    described: dict[str, Any] = {"engine": None}

    def compute(todo_rows: list[int], rows: list[dict[str, Any]], problems: dict[str, dict[str, Any]]
                ) -> list[dict[str, Any]]:
        view = [{**r, "assistant_prefix": problems[r["problem_id"]]["assistant_prefix"]} for r in rows]
        if (resolve(config["scorers"][scorer]).get("reads") or "answer") == "answer":
            view, _ = answer_rows(view, read_spans(samples_path))  # a reasoning model's answer, not its thinking
        todo = [view[i] for i in todo_rows]
        items = [Item(problems[r["problem_id"]]["question"], (r["assistant_prefix"] or "") + (r["text"] or ""),
                      r["cumulative_logprob"], r["completion_tokens"] or 0) for r in todo]
        results: list[dict[str, Any]] = []
        if items:
            own = instance is None
            s = instance or make_scorer(scorer, config, root, threads)
            try:
                results = s.score(items)
                described["engine"] = s.describe()
            finally:
                if own:
                    s.close()
        if len(results) != len(todo):
            raise DataError(f"{output}: scorer {scorer} returned {len(results)} scores for {len(todo)} samples")
        bad = {r["status"] for r in results} - set(SCORE_STATUSES)
        if bad:
            raise DataError(f"scorer {scorer} returned unknown statuses {sorted(bad)}")
        return results

    stage = PerSampleStage("scores", ["problem_id", "sample_index", "text", "cumulative_logprob", "completion_tokens"],
                           REUSE_COLUMNS, SCORES, compute, head={"scorer": scorer}, details=lambda: described,
                           rate=True)
    return run_per_sample(stage, samples_path, problems_path, output, identity)
