"""One run's job after verification and scoring: aggregate, math judgement, per-run analysis.

The three steps are one Snakemake job (rule `analyze`) rather than three: each is seconds of CPU for
a run, and Snakemake's own cost per job (planning, and a submission on a cluster) came to a third of
a paper config's planning time (docs/cluster.md). They stay three functions, each callable alone
(`ttscale analyze` calls them over an imported experiment).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ttscale.aggregate import aggregate_run, concat_parquet, split_budgets
from ttscale.analysis.run import analyze_run
from ttscale.verify.judgement import judgement_run


def run_job(*, aggregate: dict[str, Any], judgement_outputs: dict[str, Any], analysis: dict[str, Any],
            math: bool, budgets: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """aggregate_run(**aggregate); judgement_run on the same samples into `judgement_outputs`
    (`samples`, `summary`; both tables empty for a run the math verifier does not judge); then
    analyze_run(**analysis) on the aggregate, with a search run's sample shards as the shards its
    step scorer's tokens are counted in (the run has a `step_scorer`).

    `budgets` (ttscale.plan.Run.labels): a search run spanning several budgets is analyzed as one run
    per budget, each under its label; the aggregate and every analysis table hold all of them, one
    after the other (readers pick a budget by its `sampling`: ttscale.io.read_run)."""
    aggregate_run(**aggregate)
    run = {k: aggregate[k] for k in ("model", "dataset", "sampling")}
    judgement_run(samples=list(aggregate["samples"]) if math else [], problems=aggregate["problems"],
                  outputs=judgement_outputs, **run)
    search_shards = list(aggregate["samples"]) if analysis.get("step_scorer") else []
    if not budgets:
        return analyze_run(samples=Path(aggregate["out_samples"]), problems=Path(aggregate["out_problems"]),
                           search_shards=search_shards, **analysis)
    outputs = dict(analysis["outputs"])
    with tempfile.TemporaryDirectory(prefix="ttscale-budgets-") as tmp:
        parts = split_budgets(aggregate["out_samples"], aggregate["out_problems"], budgets, tmp,
                              threads=aggregate.get("threads", 2))
        done = {}
        for b in budgets:
            label = b["label"]
            spath, ppath = parts[label]
            outs = {t: Path(tmp) / f"{label}.{t}.parquet" for t in outputs}
            done[label] = analyze_run(samples=spath, problems=ppath, search_shards=search_shards,
                                      **{**analysis, "outputs": outs}, budget=int(b["budget"]))
        labels = [b["label"] for b in budgets]
        meta = {**run, "budgets": {lab: done[lab] for lab in labels}}
        for t, path in outputs.items():
            concat_parquet([Path(tmp) / f"{lab}.{t}.parquet" for lab in labels], path, meta)
        concat_parquet([parts[lab][0] for lab in labels], aggregate["out_samples"],
                       {**json.loads((pq.read_schema(aggregate["out_samples"]).metadata or {})[b"ttscale"]),
                        "budgets": [dict(b) for b in budgets]})
        concat_parquet([parts[lab][1] for lab in labels], aggregate["out_problems"])
    return meta
