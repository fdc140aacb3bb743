"""Snakemake entry point of the problems stage (logic: ttscale.problems.build_problems)."""

from ttscale.snake import run_script
from ttscale.stages import write_problems

name = snakemake.wildcards.dataset
run_script(snakemake, write_problems, name=name, spec=snakemake.config["datasets"][name], output=snakemake.output[0])
