"""Snakemake entry point of the adaptive_round checkpoint (logic: ttscale.analysis.rounds.decide)."""

from ttscale.analysis.rounds import decide
from ttscale.snake import run_script

p = snakemake.params
run_script(snakemake, decide, settings=dict(p.settings), target=int(p.target), r=int(snakemake.wildcards["round"]),
           problems=snakemake.input.problems, verdicts=list(snakemake.input.verdicts),
           previous=snakemake.input.previous[0] if snakemake.input.previous else None, output=snakemake.output[0])
