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
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ttscale.blocks import Block
from ttscale.config import register_check
from ttscale.errors import ConfigError, DataError
from ttscale.generate import block_problems
from ttscale.generate.progress import Progress
from ttscale.io import read_metadata, read_table, write_table
from ttscale.keys import search_identity, strategy_identity
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
    """Search every problem of the block at each of the run's budgets and write all the answers:
    budget after budget (`budget` column), `sample_index` counting on across them (Run.labels).

    A budget whose answers a sibling run of the same search already holds (the run before a budget
    was added or dropped: same identity but for the budgets, same problems) is taken from its shard,
    not searched again; the shard's metadata lists such budgets under `reused`."""
    strategy = config["strategies"][run.strategy]
    rows = model_rows(config, run.dataset, run.model,
                      block_problems(read_table(problems_path, PROBLEMS), block, str(problems_path)), Path.cwd())
    total = sum(run.budgets)
    if (block.s0, block.s1) != (0, total):
        raise DataError(f"{output}: a search block holds answers 0..{total - 1} (budgets "
                        f"{', '.join(map(str, run.budgets))}), not {block.name}")
    problems = []
    for r in rows:
        prompt, _, special = backend.render(r)
        problems.append(SearchProblem(r["problem_id"], r["question"], prompt, special, r))
    ident = search_identity(strategy_identity(config, run.model, run.dataset, run.strategy, run.budgets, Path.cwd()))
    old = reusable_searches(output, run, block, ident, [p.problem_id for p in problems])
    params = dict(config["sampling"][run.preset])
    exp_seed = config["seed"]

    def seed_fn(pid: str, tag: str) -> int:
        return sample_seed(exp_seed, run.model, run.dataset, pid, f"{run.strategy}:{tag}")

    fn = STRATEGIES.get(strategy["kind"])
    todo = [n for n in run.budgets if n not in old]
    progress = Progress(len(problems) * sum(todo), f"{strategy['kind']} answers")
    start = time.time()
    kwargs: dict[str, Any] = {"render": backend.render} if strategy["kind"] == "revisions" else {}
    if strategy["kind"] == "budget_forcing":
        kwargs["reasoning"] = spec_for(config["models"][run.model], f"models.{run.model}.reasoning")
    prompt_tokens = [len(backend.tokenizer.encode(p.prompt, add_special_tokens=p.add_special_tokens))
                     if hasattr(backend, "tokenizer") else 0 for p in problems]
    parts, tokens = [], 0
    for lab in run.labels():
        n, first = lab["budget"], lab["first"]
        if n in old:
            part = old[n]
            parts.append(part.set_column(part.schema.get_field_index("sample_index"), "sample_index",
                                         pc.add(part["sample_index"], first).cast(pa.int32())))
            continue
        out: SearchOutput = fn(problems, backend, scorer, search_spec(strategy, n, params), seed_fn, progress,
                               **kwargs)
        table_rows = []
        for prob, ptoks, cands, acc in zip(problems, prompt_tokens, out.candidates, out.accounting, strict=True):
            if len(cands) != n:
                raise DataError(f"{output}: {strategy['kind']} returned {len(cands)} answers for "
                                f"{prob.problem_id} at N={n}, expected {n}")
            for i, b in enumerate(cands):
                table_rows.append({
                    "problem_id": prob.problem_id, "sample_index": first + i,
                    "seed": seed_fn(prob.problem_id, f"answer/{i}"),
                    "prompt": prob.prompt, "text": b.text, "finish_reason": b.finish_reason or "stop",
                    "prompt_tokens": ptoks, "completion_tokens": b.completion_tokens,
                    "cumulative_logprob": b.cumulative_logprob, "latency_s": None,
                    "strategy": run.strategy, "budget": n, "steps": list(b.steps),
                    "step_scores": list(b.step_scores) or None,
                    "search_prompt_tokens": acc.prompt_tokens, "search_completion_tokens": acc.completion_tokens,
                    "search_scored_tokens": acc.scored_tokens, **b.meta,
                })
        parts.append(pa.Table.from_pylist(table_rows, schema=pa.schema([*SEARCH, *out.columns])))
        tokens += sum(a.completion_tokens for a in out.accounting)
    seconds = time.time() - start
    # each part holds the columns its search added (NULL in a part that lacks one)
    table = pa.concat_tables(parts, promote_options="default")
    schema = pa.schema([*SEARCH, *(f for f in table.schema if f.name not in SEARCH.names)])
    if table.num_rows != block.size:
        raise DataError(f"{output}: {table.num_rows} answers, block {block.name} needs {block.size}")
    summary = {"model": run.model, "dataset": run.dataset, "sampling": run.key, "block": block.name,
               "strategy": run.strategy, "kind": strategy["kind"], "budgets": list(run.budgets),
               "search_identity": ident, "reused": sorted(old), "rows": table.num_rows,
               "engine": backend.describe(), "seconds": round(seconds, 3), "completion_tokens": tokens,
               "tokens_per_second": round(tokens / max(seconds, 1e-9), 1)}
    write_table(output, table, schema, metadata=summary)
    log.info("wrote %s: %d answers of %s (N=%s; reused %s), %d tokens in %.1fs", output, table.num_rows,
             strategy["kind"], ",".join(map(str, run.budgets)), sorted(old) or "none", tokens, seconds)
    return summary


def reusable_searches(output: str | Path, run: Any, block: Block, ident: str,
                      problem_ids: list[str]) -> dict[int, pa.Table]:
    """Budget -> the answers (sample_index from 0) that a sibling run's shard at the same problem
    positions already holds for that budget: the same search (`search_identity` in its metadata) on
    the same problems. Shards that cannot be read or do not match are passed over."""
    out: dict[int, pa.Table] = {}
    here = Path(output)
    strategy = run.strategy
    parent = here.parent.parent
    if not parent.is_dir():
        return out
    for folder in sorted(parent.glob(f"sampling={strategy}-*")):
        if folder == here.parent:
            continue
        for shard in sorted(folder.glob(f"{block.positions}_s*.parquet")):
            try:
                meta = read_metadata(shard)
                if meta.get("search_identity") != ident:
                    continue
                t = pq.read_table(shard)
            except (OSError, ValueError, pa.ArrowException):
                continue
            first = 0
            for n in meta.get("budgets") or []:
                n = int(n)
                if n in run.budgets and n not in out:
                    part = t.filter(pc.equal(t["budget"], n))
                    ids = part["problem_id"].to_pylist()
                    if part.num_rows == n * len(problem_ids) and list(dict.fromkeys(ids)) == problem_ids:
                        out[n] = part.set_column(part.schema.get_field_index("sample_index"), "sample_index",
                                                 pc.subtract(part["sample_index"], first).cast(pa.int32()))
                first += n
    if out:
        log.info("%s: answers at N=%s taken from an earlier run of the same search", output,
                 ",".join(map(str, sorted(out))))
    return out
