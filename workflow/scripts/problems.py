"""Snakemake entry point of the problems stage (logic: ttscale.problems.build_problems)."""

from ttscale.stages import write_problems
from ttscale.snake import run_script

run_script(snakemake, write_problems, name=snakemake.wildcards.dataset,
           spec=snakemake.params.spec, output=snakemake.output[0])
