"""Snakemake entry point of the verify stage (logic: ttscale.verify.verify_block)."""

from ttscale.snake import run_script
from ttscale.verify import verify_block

# the settings come from the config: the rule's param holds only what decides reruns
run_script(snakemake, verify_block, samples_path=snakemake.input.samples, problems_path=snakemake.input.problems,
           output=snakemake.output[0], settings=snakemake.config["verify"], threads=snakemake.threads,
           identity=snakemake.input.identity, audit=getattr(snakemake.input, "audit", None) or None,
           extended=snakemake.input.extended or None)
