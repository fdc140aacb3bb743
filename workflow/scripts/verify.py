"""Snakemake entry point of the verify stage (logic: ttscale.verify.verify_block)."""

from ttscale.snake import run_script
from ttscale.verify import verify_block

run_script(snakemake, verify_block, samples_path=snakemake.input.samples, problems_path=snakemake.input.problems,
           output=snakemake.output[0], settings=snakemake.params.settings, threads=snakemake.threads)
