"""Search strategies as generation variants: beam search, lookahead search, DVTS and sequential revisions.

The planner plans search runs and ttscale.route hands their blocks here with a backend of the
generate stage and, for beam and DVTS, a step scorer of the score stage.

A strategy run writes the sample-shard format (so verification, scoring and analysis treat it like
repeated sampling) plus the search's metadata: each answer's steps and step scores, and per
problem the tokens the whole search spent (pruned beams included), so strategies compare at
equal compute.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from ttscale.blocks import Block
from ttscale.config import register_check
from ttscale.errors import ConfigError, DataError
from ttscale.generate import block_problems
from ttscale.generate.progress import Progress
from ttscale.io import read_table, write_table
from ttscale.problems.prompts import model_rows
from ttscale.reasoning import spec_for
from ttscale.registry import Registry
from ttscale.schemas import PROBLEMS, SAMPLES
from ttscale.search.budget import budget_forcing
from ttscale.search.lookahead import lookahead_search
from ttscale.search.strategies import SearchOutput, SearchProblem, SearchSpec, beam_search, dvts, revisions
from ttscale.seeds import sample_seed

log = logging.getLogger(__name__)

STRATEGIES: Registry[Any] = Registry("search strategy")
STRATEGIES.register("beam")(beam_search)
STRATEGIES.register("dvts")(dvts)
STRATEGIES.register("revisions")(revisions)
STRATEGIES.register("budget_forcing")(budget_forcing)
STRATEGIES.register("lookahead")(lookahead_search)

NEEDS_SCORER = {"beam", "dvts", "lookahead"}

SEARCH = pa.schema([
    *SAMPLES,
    ("strategy", pa.string()),
    ("budget", pa.int32()),
    ("steps", pa.list_(pa.string())),
    ("step_scores", pa.list_(pa.float64())),
    ("search_prompt_tokens", pa.int64()),  # per problem: every request the search sent
    ("search_completion_tokens", pa.int64()),  # per problem: every token it generated
    ("search_scored_tokens", pa.int64()),  # per problem: tokens the step scorer read
])


def check_strategy(name: str, spec: dict[str, Any], config: dict[str, Any]) -> None:
    STRATEGIES.get(spec["kind"], f"strategies.{name}.kind")
    if spec["kind"] in NEEDS_SCORER:
        if not spec.get("scorer"):
            raise ConfigError(f"strategies.{name}.scorer: {spec['kind']} needs a step scorer")
        for b in spec["budgets"]:
            if b % spec["beam_width"]:
                raise ConfigError(f"strategies.{name}.budgets: {b} is not a multiple of beam_width "
                                  f"{spec['beam_width']}")
    if spec.get("scorer") and spec["scorer"] not in (config.get("scorers") or {}):
        raise ConfigError(f"strategies.{name}.scorer: {spec['scorer']!r} is not a scorer of the config")
    if spec["kind"] == "revisions":
        for b in spec["budgets"]:
            if b % spec["rounds"]:
                raise ConfigError(f"strategies.{name}.budgets: {b} is not a multiple of rounds {spec['rounds']}")


@register_check("strategies", __name__)
def check_strategies(config: dict[str, Any], source: str, root: Path) -> None:
    for name, spec in (config.get("strategies") or {}).items():
        check_strategy(name, spec, config)


def search_spec(spec: dict[str, Any], budget: int, params: dict[str, Any]) -> SearchSpec:
    keys = ("beam_width", "max_steps", "step_delimiter", "step_tokens", "aggregation", "rounds",
            "context_attempts", "revision_prompt", "lookahead", "thinking_budget", "min_thinking",
            "max_extensions", "continuation", "answer_prefix", "answer_tokens")
    return SearchSpec(kind=spec["kind"], budget=budget, params=params,
                      **{k: spec[k] for k in keys if spec.get(k) is not None})


def run_search_block(config: dict[str, Any], run: Any, block: Block, problems_path: str | Path,
                     output: str | Path, backend: Any, scorer: Any = None) -> dict[str, Any]:
    """Search every problem of the block and write its N answers per problem."""
    strategy = config["strategies"][run.strategy]
    rows = model_rows(config, run.dataset, run.model,
                      block_problems(read_table(problems_path, PROBLEMS), block, str(problems_path)), Path.cwd())
    if (block.s0, block.s1) != (0, run.budget):
        raise DataError(f"{output}: a search block holds answers 0..{run.budget - 1}, not {block.name}")
    problems = []
    for r in rows:
        prompt, _, special = backend.render(r)
        problems.append(SearchProblem(r["problem_id"], r["question"], prompt, special, r))
    params = dict(config["sampling"][run.preset])
    spec = search_spec(strategy, run.budget, params)
    exp_seed = config["seed"]

    def seed_fn(pid: str, tag: str) -> int:
        return sample_seed(exp_seed, run.model, run.dataset, pid, f"{run.strategy}:{tag}")

    fn = STRATEGIES.get(strategy["kind"])
    progress = Progress(len(problems) * run.budget, f"{strategy['kind']} answers")
    start = time.time()
    kwargs: dict[str, Any] = {"render": backend.render} if strategy["kind"] == "revisions" else {}
    if strategy["kind"] == "budget_forcing":
        kwargs["reasoning"] = spec_for(config["models"][run.model], f"models.{run.model}.reasoning")
    out: SearchOutput = fn(problems, backend, scorer, spec, seed_fn, progress, **kwargs)
    seconds = time.time() - start
    table_rows = []
    for prob, cands, acc in zip(problems, out.candidates, out.accounting, strict=True):
        if len(cands) != run.budget:
            raise DataError(f"{output}: {strategy['kind']} returned {len(cands)} answers for {prob.problem_id}, "
                            f"expected {run.budget}")
        prompt_tokens = len(backend.tokenizer.encode(prob.prompt, add_special_tokens=prob.add_special_tokens)) \
            if hasattr(backend, "tokenizer") else 0
        for i, b in enumerate(cands):
            table_rows.append({
                "problem_id": prob.problem_id, "sample_index": i, "seed": seed_fn(prob.problem_id, f"answer/{i}"),
                "prompt": prob.prompt, "text": b.text, "finish_reason": b.finish_reason or "stop",
                "prompt_tokens": prompt_tokens, "completion_tokens": b.completion_tokens,
                "cumulative_logprob": b.cumulative_logprob, "latency_s": None,
                "strategy": run.strategy, "budget": run.budget, "steps": list(b.steps),
                "step_scores": list(b.step_scores) or None,
                "search_prompt_tokens": acc.prompt_tokens, "search_completion_tokens": acc.completion_tokens,
                "search_scored_tokens": acc.scored_tokens, **b.meta,
            })
    schema = pa.schema([*SEARCH, *out.columns])
    table = pa.Table.from_pylist(table_rows, schema=schema)
    if table.num_rows != block.size:
        raise DataError(f"{output}: {table.num_rows} answers, block {block.name} needs {block.size}")
    tokens = sum(a.completion_tokens for a in out.accounting)
    summary = {"model": run.model, "dataset": run.dataset, "sampling": run.key, "block": block.name,
               "strategy": run.strategy, "kind": strategy["kind"], "budget": run.budget, "rows": table.num_rows,
               "engine": backend.describe(), "seconds": round(seconds, 3), "completion_tokens": tokens,
               "tokens_per_second": round(tokens / max(seconds, 1e-9), 1)}
    write_table(output, table, schema, metadata=summary)
    log.info("wrote %s: %d answers of %s (N=%d), %d tokens in %.1fs", output, table.num_rows, strategy["kind"],
             run.budget, tokens, seconds)
    return summary
