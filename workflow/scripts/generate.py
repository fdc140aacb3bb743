"""Snakemake entry point of the generate stage (logic: ttscale.route.run_block, which hands a
repeated-sampling block to ttscale.generate and a search block to ttscale.search)."""

from ttscale.route import run_block
from ttscale.snake import run_script

w = snakemake.wildcards
run_script(snakemake, run_block, config=snakemake.config, model=w.model, dataset=w.dataset,
           sampling=w.sampling, block=w.block, problems_path=snakemake.input.problems,
           output=snakemake.output[0], threads=snakemake.threads,
           decision=snakemake.input.decision[0] if snakemake.input.decision else None)
