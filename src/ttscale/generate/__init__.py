"""The generate stage: one shard of samples per block, from a registered backend."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections import Counter
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ttscale.blocks import Block
from ttscale.config import register_check
from ttscale.errors import DataError
from ttscale.generate.base import Backend, Request, Result
from ttscale.generate.openai_backend import OpenAIBackend
from ttscale.generate.progress import Progress
from ttscale.generate.vllm_backend import VLLMBackend
from ttscale.io import META_KEY, check_schema, read_table, write_table
from ttscale.keys import sampling_identity, sampling_key
from ttscale.problems.prompts import model_rows
from ttscale.reasoning import spec_for, with_reasoning
from ttscale.registry import Registry
from ttscale.reuse import gather, sibling_blocks
from ttscale.schemas import PROBLEMS, SAMPLES
from ttscale.seeds import sample_seed

log = logging.getLogger(__name__)

BACKENDS: Registry[type[Backend]] = Registry("generation backend")
BACKENDS.register("vllm")(VLLMBackend)
BACKENDS.register("openai")(OpenAIBackend)


@register_check("models", __name__)
def check_backends(config: dict[str, Any], source: str, root: Path) -> None:
    for name, model in config["models"].items():
        BACKENDS.get(model["backend"], f"{source}: models.{name}.backend")
        spec_for(model, f"{source}: models.{name}.reasoning")  # a clear error for a bad preset or delimiters

__all__ = ["BACKENDS", "Backend", "Request", "Result", "block_problems", "build_requests", "make_backend",
           "reusable_results", "run_block"]


def block_problems(problems: pa.Table, block: Block, where: str) -> list[dict[str, Any]]:
    """The rows of the problem table a block covers, checked against the block's range."""
    mask = pc.and_(pc.greater_equal(problems["position"], block.p0), pc.less(problems["position"], block.p1))
    rows = sorted(problems.filter(mask).to_pylist(), key=lambda r: r["position"])
    if [r["position"] for r in rows] != list(range(block.p0, block.p1)):
        raise DataError(
            f"{where}: block {block.name} needs problem positions {block.p0}..{block.p1 - 1}, "
            f"the problem table has {len(rows)} of them; rerun the problems stage"
        )
    return rows


def build_requests(
    backend: Backend,
    rows: list[dict[str, Any]],
    block: Block,
    params: dict[str, Any],
    *,
    experiment_seed: int,
    model: str,
    dataset: str,
) -> list[Request]:
    """problems x sample indices of the block, each with its own derived seed."""
    requests = []
    for row in rows:
        prompt, messages, special = backend.render(row)
        stop = list(dict.fromkeys([*(params.get("stop") or []), *(row.get("stop") or [])]))
        p = {**params, "stop": stop}
        for i in range(block.s0, block.s1):
            seed = sample_seed(experiment_seed, model, dataset, row["problem_id"], i)
            requests.append(Request(row["problem_id"], i, seed, prompt, messages, special, p))
    return requests


def results_table(requests: list[Request], results: list[Result]) -> pa.Table:
    if len(results) != len(requests):
        raise DataError(f"backend returned {len(results)} results for {len(requests)} requests")
    return pa.Table.from_pylist(
        [
            {
                "problem_id": q.problem_id,
                "sample_index": q.sample_index,
                "seed": q.seed,
                "prompt": q.prompt,
                "text": r.text,
                "finish_reason": r.finish_reason,
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "cumulative_logprob": r.cumulative_logprob,
                "latency_s": r.latency_s,
            }
            for q, r in zip(requests, results, strict=True)
        ],
        schema=SAMPLES,
    )


_KEY_COLUMNS = ["problem_id", "sample_index", "seed"]
_RESULT_FIELDS = [f.name for f in dataclasses.fields(Result)]


def _sibling_results(path: Path, requests: list[Request], wanted: dict[tuple[str, int, int], int],
                     expect: dict[str, str]) -> dict[int, Result]:
    """Results in the shard `path` for requests in `wanted` (key -> request index), matched on problem
    id, sample index, seed and the stored prompt; raises if the file is unreadable or not a sample shard."""
    pf = pq.ParquetFile(path)
    schema = pf.schema_arrow
    check_schema(schema, SAMPLES, str(path))
    raw = (schema.metadata or {}).get(META_KEY)
    meta = json.loads(raw) if raw else {}
    for k, v in expect.items():
        if k in meta and meta[k] != v:
            raise DataError(f"{path}: written for {k} {meta[k]!r}, not {v!r}")
    keys = pf.read(columns=_KEY_COLUMNS).to_pydict()
    candidates: dict[int, int] = {}  # request index -> row in the shard (first match)
    for row, key in enumerate(zip(keys["problem_id"], keys["sample_index"], keys["seed"], strict=True)):
        i = wanted.get(key)
        if i is not None:
            candidates.setdefault(i, row)
    if not candidates:
        return {}
    at = pa.array(list(candidates.values()), pa.int64())
    prompts = pf.read(columns=["prompt"]).column("prompt").take(at).to_pylist()
    rows = {i: row for (i, row), prompt in zip(candidates.items(), prompts, strict=True)
            if prompt == requests[i].prompt}
    if not rows:
        return {}
    order = sorted(rows, key=rows.__getitem__)
    taken = pf.read(columns=_RESULT_FIELDS).take(pa.array([rows[i] for i in order], pa.int64())).to_pylist()
    return {i: Result(**rec) for i, rec in zip(order, taken, strict=True)}


def reusable_results(output: str | Path, requests: list[Request],
                     expect: dict[str, str] | None = None) -> tuple[dict[int, Result], list[str]]:
    """Results of `requests` that other block shards next to `output` already hold.

    Shards of one directory share model, dataset and sampling key, so a sample with the same problem
    id, sample index, seed and prompt text would be generated again exactly as stored: when a dataset
    grows, its last block is renamed (p00000-00010 -> p00000-00011) and its old samples are taken from
    the shard under the old name instead. Only files named like a block whose sample range overlaps
    the requests' are read (key columns first); unreadable ones, and ones whose schema or metadata do
    not fit, are skipped with a log line. `output` itself is never read. Returns (request index ->
    result, names of the shards used).
    """
    out = Path(output)
    if not requests or not out.parent.is_dir():
        return {}, []
    lo = min(q.sample_index for q in requests)
    hi = max(q.sample_index for q in requests) + 1
    return gather(sibling_blocks(out, lambda b: b.s0 < hi and lo < b.s1),
                  {(q.problem_id, q.sample_index, q.seed): i for i, q in enumerate(requests)},
                  lambda path, wanted: _sibling_results(path, requests, wanted, expect or {}), "samples")


def make_backend(config: dict[str, Any], model: str, root: Path, threads: int | None = None) -> Backend:
    """The configured backend of `model`, loaded (close() it when done)."""
    spec = config["models"][model]
    return BACKENDS.get(spec["backend"], f"models.{model}.backend")(model, spec, root, threads=threads,
                                                                  seed=config["seed"])


def run_block(
    config: dict[str, Any],
    model: str,
    dataset: str,
    sampling: str,
    block: str,
    problems_path: str | Path,
    output: str | Path,
    threads: int | None = None,
    root: Path | None = None,
    backend: Backend | None = None,
    only: Collection[str] | None = None,
) -> dict[str, Any]:
    """Generate one block of repeated sampling; returns its summary (also stored in the shard's metadata).

    `only`: the problem ids of the block's positions to sample (a later round of an adaptive run
    samples the problems its decision chose; ttscale.analysis.rounds), all when None.

    Search runs are not this stage's: the workflow routes their blocks elsewhere (ttscale.route).

    `backend` may be passed in to reuse a loaded engine for several blocks (benchmarks, tests).
    """
    root = root or Path.cwd()
    preset = sampling.rpartition("-")[0]
    if preset not in config["sampling"]:
        raise DataError(f"{output}: {sampling} names neither a sampling preset nor a search run of the current "
                        f"config; the workflow plans paths from the current config")
    key = sampling_key(config, model, dataset, preset, root)
    if key != sampling:
        raise DataError(
            f"{output}: the config now gives sampling key {key} for {model}/{dataset}/{preset}, "
            f"not {sampling}; the workflow plans paths from the current config"
        )
    blk = Block.parse(block)
    problems = read_table(problems_path, PROBLEMS)
    rows = model_rows(config, dataset, model, block_problems(problems, blk, str(problems_path)), root)
    if only is not None:
        unknown = sorted(set(only) - {r["problem_id"] for r in rows})
        if unknown:
            raise DataError(f"{output}: problems {unknown[:5]} are not at the positions of block {block}")
        rows = [r for r in rows if r["problem_id"] in set(only)]
    own = backend is None
    if backend is None:
        backend = make_backend(config, model, root, threads)
    params = dict(config["sampling"][preset])
    requests = build_requests(backend, rows, blk, params, experiment_seed=config["seed"], model=model,
                              dataset=dataset)
    reused, sources = reusable_results(output, requests, {"model": model, "dataset": dataset, "sampling": sampling})
    todo = [i for i in range(len(requests)) if i not in reused]
    if reused:
        log.info("%s: reusing %d of %d samples from %s; generating %d", output, len(reused), len(requests),
                 ", ".join(sources), len(todo))
    progress = Progress(len(todo), "samples")
    journal = Path(output).with_name(f".{Path(output).name}.journal.jsonl")
    journal.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    try:
        new = backend.generate([requests[i] for i in todo], progress, journal=journal) if todo else []
    finally:
        if own:
            backend.close()
    if len(new) != len(todo):
        raise DataError(f"backend returned {len(new)} results for {len(todo)} requests")
    generated = dict(zip(todo, new, strict=True))
    results = [reused[i] if i in reused else generated[i] for i in range(len(requests))]
    seconds = time.time() - start
    table = results_table(requests, results)
    tokens = int(pc.sum(table["completion_tokens"]).as_py() or 0)
    # The rate counts only what this run generated: samples reused from sibling shards, and after a
    # resume results restored from the journal, are in the table but took none of `seconds` (backends
    # report only new tokens to `progress`).
    new_tokens = progress.tokens
    summary = {
        "model": model,
        "dataset": dataset,
        "sampling": sampling,
        "block": blk.name,
        "rows": table.num_rows,
        "identity": sampling_identity(config, model, dataset, preset, root),
        "engine": backend.describe(),
        "seconds": round(seconds, 3),
        "completion_tokens": tokens,
        "tokens_per_second": round(new_tokens / seconds, 1) if seconds > 0 and todo else None,
        "reused_samples": len(reused),
        "generated_samples": len(todo),
        "reused_from": sources,
    }
    planned = blk.size if only is None else len(rows) * blk.n_samples  # an adaptive round: its chosen problems
    if table.num_rows != planned:
        raise DataError(f"{output}: {table.num_rows} samples generated, block {blk.name} needs {planned}")
    schema = SAMPLES
    thinking = spec_for(config["models"][model], f"models.{model}.reasoning")
    if thinking is not None:  # only a reasoning model's shards get the answer columns
        table, schema = with_reasoning(table, thinking, backend)
        summary["thinking"] = dict(Counter(table["thinking_status"].to_pylist()))
    write_table(output, table, schema, metadata=summary)
    journal.unlink(missing_ok=True)
    log.info("wrote %s: %d samples (%d reused, %d generated), %d tokens (%d new) in %.1fs (%.0f tok/s)", output,
             table.num_rows, len(reused), len(todo), tokens, new_tokens, seconds, new_tokens / max(seconds, 1e-9))
    return summary
