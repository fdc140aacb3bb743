"""One run's job after verification and scoring: aggregate, math judgement, per-run analysis.

The three steps are one Snakemake job (rule `analyze`) rather than three: each is seconds of CPU for
a run, and Snakemake's own cost per job (planning, and a submission on a cluster) came to a third of
a paper config's planning time (docs/cluster.md). They stay three functions, each callable alone
(`ttscale analyze` calls them over an imported experiment).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ttscale.aggregate import aggregate_run
from ttscale.analysis.run import analyze_run
from ttscale.verify.judgement import judgement_run


def run_job(*, aggregate: dict[str, Any], judgement_outputs: dict[str, Any], analysis: dict[str, Any],
            math: bool) -> dict[str, Any]:
    """aggregate_run(**aggregate); judgement_run on the same samples into `judgement_outputs`
    (`samples`, `summary`; both tables empty for a run the math verifier does not judge); then
    analyze_run(**analysis) on the aggregate, with a search run's sample shards as the shards its
    step scorer's tokens are counted in (the run has a `step_scorer`)."""
    aggregate_run(**aggregate)
    run = {k: aggregate[k] for k in ("model", "dataset", "sampling")}
    judgement_run(samples=list(aggregate["samples"]) if math else [], problems=aggregate["problems"],
                  outputs=judgement_outputs, **run)
    search_shards = list(aggregate["samples"]) if analysis.get("step_scorer") else []
    return analyze_run(samples=Path(aggregate["out_samples"]), problems=Path(aggregate["out_problems"]),
                       search_shards=search_shards, **analysis)
