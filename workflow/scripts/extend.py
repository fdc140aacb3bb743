"""Snakemake entry point of the extended-tests table (logic: ttscale.verify.extended.extend_dataset)."""

from ttscale.snake import run_script
from ttscale.verify.extended import extend_dataset

# the settings come from the config: the rule's param holds only what decides reruns
run_script(snakemake, extend_dataset, problems_path=snakemake.input.problems, output=snakemake.output[0],
           config=snakemake.config, dataset=snakemake.wildcards.dataset, threads=snakemake.threads)
