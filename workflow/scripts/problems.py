"""Snakemake entry point of the problems stage (logic: ttscale.problems.write_problems)."""

from ttscale.problems import write_problems
from ttscale.snake import run_script

name = snakemake.wildcards.dataset
run_script(snakemake, write_problems, name=name, spec=snakemake.config["datasets"][name], output=snakemake.output[0])
