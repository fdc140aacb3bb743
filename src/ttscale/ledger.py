"""The compute ledger: what every model call and sandbox of an experiment spent, estimated and measured.

Estimates, one row per (run, component), counted from the tokens each model processed:
- `generate`: the sampling model over its prompts and completions (a search: every request it
  sent and every token it generated, pruned beams and rollouts included);
- `score`: each reward model or judge that scores the run, over each sample's prompt and response;
- `search_scoring`: the step scorer (PRM) of a search, over every prefix it read while searching;
- `verify`: the sandboxes' seconds from the verdicts (`duration_s`, summed).
FLOPs are 2 x parameters x tokens (the forward pass of Kaplan et al.; the attention term of the
cost tables is left out, so every model is counted alike). Token counts are the policy's tokenizer's
(the samples' `prompt_tokens` and `completion_tokens`); a scorer with its own tokenizer reads a
similar number. With `analysis.cost.prompt_once` the prompt of a problem's samples counts once
(prefix caching), as in the cost tables.

Measured, one row per stage: the jobs' wall seconds and CPU seconds from their Snakemake benchmark
files (`R/benchmarks/<rule>/...tsv`, written locally and on SLURM alike), and GPU-hours as wall time
x the GPUs the job asked for (ttscale.resources).
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ttscale.errors import DataError
from ttscale.io import write_table

log = logging.getLogger(__name__)

LEDGER = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("stage", pa.string()),
    ("component", pa.string()), ("n_params", pa.float64()), ("tokens", pa.float64()), ("flops", pa.float64()),
    ("sandbox_seconds", pa.float64()),
])
MEASURED = pa.schema([
    ("stage", pa.string()), ("jobs", pa.int64()), ("wall_seconds", pa.float64()), ("cpu_seconds", pa.float64()),
    ("gpu_hours", pa.float64()), ("estimated_flops", pa.float64()),
])
# ledger stage -> the Snakemake rule whose jobs did that work
RULE_OF = {"generate": "generate", "search_scoring": "generate", "score": "score", "verify": "verify"}


def forward_flops(n_params: float | None, tokens: float) -> float:
    """2 x parameters x tokens; NaN when the parameter count is unknown (a hub model not on disk)."""
    if n_params is None or (isinstance(n_params, float) and math.isnan(n_params)):
        return math.nan
    return 2.0 * float(n_params) * float(tokens)


def sampling_tokens(samples: pa.Table, prompt_once: bool) -> float:
    """Tokens a repeated-sampling run processed: completions, and prompts once per problem or per sample."""
    completion = float(pc.sum(samples["completion_tokens"]).as_py() or 0)
    if not prompt_once:
        return completion + float(pc.sum(samples["prompt_tokens"]).as_py() or 0)
    per_problem = samples.group_by("problem_id").aggregate([("prompt_tokens", "max")])
    return completion + float(pc.sum(per_problem["prompt_tokens_max"]).as_py() or 0)


def search_tokens(sample_shards: Sequence[str | Path]) -> tuple[float, float]:
    """(generated + sent, scored) tokens of a search run, from its shards' accounting per problem and
    budget (a run spans its budgets, each a search of its own)."""
    spent = scored = 0.0
    for path in sample_shards:
        cols = ["search_prompt_tokens", "search_completion_tokens", "search_scored_tokens"]
        keys = ["problem_id", *(["budget"] if "budget" in pq.read_schema(path).names else [])]
        t = pq.read_table(path, columns=[*keys, *cols])
        per = t.group_by(keys).aggregate([(c, "max") for c in cols])
        spent += float(pc.sum(per["search_prompt_tokens_max"]).as_py() or 0)
        spent += float(pc.sum(per["search_completion_tokens_max"]).as_py() or 0)
        scored += float(pc.sum(per["search_scored_tokens_max"]).as_py() or 0)
    return spent, scored


def sandbox_seconds(verdict_shards: Sequence[str | Path]) -> float:
    return float(sum(pc.sum(pq.read_table(p, columns=["duration_s"])["duration_s"]).as_py() or 0.0
                     for p in verdict_shards))


def estimate(runs: Sequence[dict[str, Any]], params: dict[str, float | None], prompt_once: bool) -> pa.Table:
    """The ledger's estimate rows. Each run: model, dataset, sampling, samples (aggregated per-sample
    table), sample_shards, verdict_shards, scorers (names of the scorers that score it) and, for a
    search, strategy_scorer. `params`: model or scorer name -> parameter count (None: unknown)."""
    rows = []
    for run in runs:
        key = {"model": run["model"], "dataset": run["dataset"], "sampling": run["sampling"]}
        samples = pq.read_table(run["samples"], columns=["problem_id", "prompt_tokens", "completion_tokens"])
        read = float(pc.sum(samples["prompt_tokens"]).as_py() or 0) + \
            float(pc.sum(samples["completion_tokens"]).as_py() or 0)
        if run.get("strategy"):
            spent, scored = search_tokens(run["sample_shards"])
        else:
            spent, scored = sampling_tokens(samples, prompt_once), 0.0

        def row(stage: str, component: str, tokens: float, n: float | None, key: dict[str, str] = key
                ) -> dict[str, Any]:
            return {**key, "stage": stage, "component": component, "n_params": math.nan if n is None else float(n),
                    "tokens": tokens, "flops": forward_flops(n, tokens), "sandbox_seconds": 0.0}

        rows.append(row("generate", run["model"], spent, params.get(run["model"])))
        if run.get("strategy_scorer"):
            rows.append(row("search_scoring", run["strategy_scorer"], scored, params.get(run["strategy_scorer"])))
        for scorer in run.get("scorers") or []:
            rows.append(row("score", scorer, read, params.get(scorer)))
        rows.append({**row("verify", "sandbox", 0.0, None), "flops": 0.0,
                     "sandbox_seconds": sandbox_seconds(run["verdict_shards"])})
    return pa.Table.from_pylist(rows, schema=LEDGER)


def read_benchmark(path: Path) -> dict[str, float]:
    """Wall seconds (`s`) and CPU seconds (`cpu_time`) of one Snakemake benchmark file (its last repeat)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows or "s" not in rows[-1]:
        raise DataError(f"{path}: not a Snakemake benchmark file (no `s` column)")

    def num(v: str | None) -> float:
        try:
            return float(v) if v not in (None, "", "NA", "-") else 0.0
        except ValueError:
            return 0.0

    return {"s": num(rows[-1]["s"]), "cpu_time": num(rows[-1].get("cpu_time"))}


def job_gpus(rule: str, parts: Sequence[str], gpus_of: dict[str, Any]) -> int:
    """GPUs a benchmarked job asked for, from its rule and path (`gpus_of` maps what decides it)."""
    fields = dict(p.split("=", 1) for p in parts if "=" in p)
    if rule == "generate":
        return int(gpus_of["generate"].get((fields.get("model"), fields.get("dataset"), fields.get("sampling")), 0))
    if rule == "score" and parts:
        return int(gpus_of["score"].get(parts[0], 0))
    return 0


def measure(bench_dir: str | Path, gpus_of: dict[str, Any], estimates: pa.Table) -> pa.Table:
    """One row per rule with benchmark files: jobs, wall and CPU seconds, GPU-hours (wall x GPUs),
    and the estimated FLOPs of the ledger stages that rule ran."""
    bench = Path(bench_dir)
    per: dict[str, dict[str, float]] = {}
    for f in sorted(bench.rglob("*.tsv")) if bench.exists() else []:
        rel = f.relative_to(bench).parts
        rule = rel[0]
        b = read_benchmark(f)
        gpus = job_gpus(rule, rel[1:-1], gpus_of)
        acc = per.setdefault(rule, {"jobs": 0, "wall": 0.0, "cpu": 0.0, "gpu_h": 0.0})
        acc["jobs"] += 1
        acc["wall"] += b["s"]
        acc["cpu"] += b["cpu_time"]
        acc["gpu_h"] += b["s"] * gpus / 3600.0
    est: dict[str, float] = {}
    for stage, flops in zip(estimates["stage"].to_pylist(), estimates["flops"].to_pylist(), strict=True):
        rule = RULE_OF[stage]
        est[rule] = est.get(rule, 0.0) + (flops if flops is not None else math.nan)
    rows = [{"stage": rule, "jobs": int(a["jobs"]), "wall_seconds": a["wall"], "cpu_seconds": a["cpu"],
             "gpu_hours": a["gpu_h"], "estimated_flops": est.get(rule, math.nan)}
            for rule, a in sorted(per.items())]
    return pa.Table.from_pylist(rows, schema=MEASURED)


def model_params(config: dict[str, Any], root: Path | None = None) -> dict[str, float | None]:
    """Parameter counts of the config's models and model-based scorers (None where unknown)."""
    from ttscale.analysis.cost import model_dims
    from ttscale.models.families import model_spec, resolve

    out: dict[str, float | None] = {}
    for name, spec in config["models"].items():
        out[name] = model_dims(name, spec, root).get("n_params")
    for name, raw in (config.get("scorers") or {}).items():
        spec = resolve(raw)
        if spec.get("kind") == "logprob":
            continue  # reads the samples' log-probabilities: no model call
        out[name] = model_dims(name, model_spec(name, spec, config), root).get("n_params")
    return out


def ledger_runs(config: dict[str, Any], runs: Sequence[Any], run_scorers: dict[tuple[str, str, str], list[str]],
                free_scorers: Sequence[str]) -> list[dict[str, Any]]:
    """What the ledger reads of each planned run (ttscale.plan.Run): its aggregated samples, its sample
    and verdict shards, the model-based scorers that score it and a search's step scorer."""
    from ttscale.config import experiment_dir
    from ttscale.plan import shards

    out = []
    for r in sorted(runs, key=lambda r: r.partition()):
        strategy = config["strategies"][r.strategy] if r.strategy else {}
        out.append({"model": r.model, "dataset": r.dataset, "sampling": r.key, "strategy": r.strategy,
                    "strategy_scorer": strategy.get("scorer"),
                    "samples": str(experiment_dir(config) / "aggregate" / r.partition() / "samples.parquet"),
                    "sample_shards": shards(config, "samples", r), "verdict_shards": shards(config, "verdicts", r),
                    "scorers": [s for s in run_scorers[(r.model, r.dataset, r.key)] if s not in free_scorers]})
    return out


def job_gpu_map(config: dict[str, Any], runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What `job_gpus` looks up: GPUs of each run's generate jobs and of each scorer's score jobs."""
    from ttscale import resources

    return {"generate": {(r["model"], r["dataset"], r["sampling"]):
                         resources.generate_gpus(config, r["model"], r.get("strategy")) for r in runs},
            "score": {s: resources.scorer_gpus(config, s) for s in config.get("scorers") or {}}}


def write_ledger(config: dict[str, Any], runs: Sequence[dict[str, Any]], bench_dir: str, outputs: dict[str, str],
                 root: Path | None = None) -> dict[str, int]:
    """The `ledger` rule: estimate and measure, write both tables and their Markdown/CSV versions."""
    from ttscale.io import write_text
    from ttscale.report.tables import Column, to_csv, to_markdown

    once = ((config.get("analysis") or {}).get("cost") or {}).get("prompt_once", True)
    est = estimate(runs, model_params(config, root), once)
    meas = measure(bench_dir, job_gpu_map(config, runs), est)
    write_table(outputs["ledger"], est, LEDGER)
    write_table(outputs["measured"], meas, MEASURED)

    cols = {"ledger": [Column("model", "model", "text"), Column("dataset", "dataset", "text"),
                       Column("sampling", "sampling", "text"), Column("stage", "stage", "text"),
                       Column("component", "component", "text"), Column("n_params", "parameters", "sci"),
                       Column("tokens", "tokens", "int"), Column("flops", "FLOPs", "sci"),
                       Column("sandbox_seconds", "sandbox s")],
            "measured": [Column("stage", "stage", "text"), Column("jobs", "jobs", "int"),
                         Column("wall_seconds", "wall s"), Column("cpu_seconds", "CPU s"),
                         Column("gpu_hours", "GPU-hours"), Column("estimated_flops", "estimated FLOPs", "sci")]}
    for name, table in (("ledger", est), ("measured", meas)):
        rows = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
                for r in table.to_pylist()]
        write_text(outputs[f"{name}_md"], to_markdown(rows, cols[name], 4))
        write_text(outputs[f"{name}_csv"], to_csv(rows, cols[name], 6))
    log.info("ledger: %d estimate rows, %d measured stages", est.num_rows, meas.num_rows)
    return {"ledger": est.num_rows, "measured": meas.num_rows}
