"""Snakemake entry point of the thinking/answer cost table (logic: ttscale.analysis.thinking)."""

from ttscale.analysis.thinking import write_thinking_costs
from ttscale.snake import run_script

p = snakemake.params
run_script(snakemake, write_thinking_costs, runs=list(p.runs), models=dict(p.models), output=snakemake.output[0])
