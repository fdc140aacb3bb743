"""Snakemake entry point of the score stage (logic: ttscale.score.score_block)."""

from ttscale.score import score_block
from ttscale.snake import run_script

run_script(snakemake, score_block, config=snakemake.config, scorer=snakemake.wildcards.scorer,
           samples_path=snakemake.input.samples, problems_path=snakemake.input.problems,
           output=snakemake.output[0], threads=snakemake.threads, identity=snakemake.input.identity)
