"""Snakemake entry point of the sequential-vs-parallel figure and table (logic: ttscale.report.sequential)."""

from ttscale.report.sequential import sequential_report
from ttscale.snake import run_script

p = snakemake.params
run_script(snakemake, sequential_report, points=snakemake.input.points, optimal=snakemake.input.optimal,
           out_dir=p.out_dir, datasets=list(p.datasets), settings=p.settings)
