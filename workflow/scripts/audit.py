"""Snakemake entry point of the gold audit (logic: ttscale.verify.audit.audit_dataset)."""

from ttscale.snake import run_script
from ttscale.verify.audit import audit_dataset

# the settings come from the config: the rule's param holds only what decides reruns
s = snakemake.config["verify"]
run_script(snakemake, audit_dataset, problems_path=snakemake.input.problems, output=snakemake.output[0],
           settings=s, repeats=s["audit_repeats"], threads=snakemake.threads)
