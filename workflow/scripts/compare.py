"""Snakemake entry point of the experiment-wide analysis tables (logic: ttscale.analysis.experiment.combine)."""

from ttscale.analysis.experiment import combine
from ttscale.snake import run_script

p = snakemake.params
run_script(snakemake, combine, run_files=list(p.runs), outputs={k: v for k, v in snakemake.output.items()},
           settings=p.settings, seed=p.seed)
