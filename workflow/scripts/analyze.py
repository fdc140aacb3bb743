"""Snakemake entry point of the analyze stage (logic: ttscale.analysis.run.analyze_run)."""

from pathlib import Path

from ttscale.analysis.run import analyze_run
from ttscale.snake import run_script

p = snakemake.params
run_script(snakemake, analyze_run, samples=snakemake.input.samples, problems=snakemake.input.problems,
           outputs={k: v for k, v in snakemake.output.items()}, settings=p.settings, model_spec=p.model_spec,
           seed=p.seed, root=Path.cwd(), threads=snakemake.threads, scorers=dict(p.scorers),
           step_scorer=p.step_scorer, search_shards=list(snakemake.input.search_shards), adaptive=p.adaptive)
