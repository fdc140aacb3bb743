"""Snakemake entry point of the power analysis (logic: ttscale.analysis.power_cli.power_stage)."""

from ttscale.analysis.power_cli import power_stage
from ttscale.snake import run_script

run_script(snakemake, power_stage, config=dict(snakemake.config), out_dir=snakemake.params.out_dir,
           digits=snakemake.params.digits)
