"""Snakemake entry point of the sequential-vs-parallel tables (logic: ttscale.analysis.sequential)."""

from ttscale.analysis.sequential import write_sequential
from ttscale.snake import run_script

p = snakemake.params
run_script(snakemake, write_sequential, runs=list(p.runs), outputs=dict(snakemake.output.items()),
           settings=p.settings, seed=p.seed)
