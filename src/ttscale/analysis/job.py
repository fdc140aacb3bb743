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


def run_job(*, aggregate: dict[str, Any], analysis: dict[str, Any], judgement: dict[str, Any],
            math: bool) -> dict[str, Any]:
    """aggregate_run(**aggregate), then judgement_run(**judgement) (a run not judged by the math
    verifier gets the two judgement tables empty), then analyze_run(**analysis) on the aggregate."""
    aggregate_run(**aggregate)
    judgement_run(**{**judgement, "samples": judgement["samples"] if math else []})
    return analyze_run(samples=Path(aggregate["out_samples"]), problems=Path(aggregate["out_problems"]), **analysis)
