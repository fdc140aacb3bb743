"""Snakemake entry point of a run's analyze job (logic: ttscale.analysis.job.run_job)."""

from pathlib import Path

from ttscale.analysis.job import run_job
from ttscale.analysis.tables import RUN_TABLES
from ttscale.snake import run_script

w, p, i, o = snakemake.wildcards, snakemake.params, snakemake.input, snakemake.output
run = {"model": w.model, "dataset": w.dataset, "sampling": w.sampling}
run_script(
    snakemake, run_job, math=p.math, budgets=p.search_budgets,
    aggregate={"samples": list(i.samples), "verdicts": list(i.verdicts), "scores": dict(p.score_files),
               "problems": i.problems, "out_samples": o.aggregate_samples, "out_problems": o.aggregate_problems,
               "exclude": list(p.exclude), "samples_per_problem": p.samples_per_problem,
               "search_scorer": p.search_scorer,
               "threads": snakemake.threads, **run},
    judgement_outputs={"samples": o.judgement_samples, "summary": o.judgement_summary},
    analysis={"outputs": {t: getattr(o, t) for t in RUN_TABLES}, "settings": p.settings, "model_spec": p.model_spec,
              "seed": p.seed, "root": Path.cwd(), "threads": snakemake.threads, "scorers": dict(p.scorers),
              "step_scorer": p.step_scorer, "adaptive": p.adaptive},
)
