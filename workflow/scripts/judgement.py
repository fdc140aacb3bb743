"""Snakemake entry point of the math judgement listing of one run (logic: ttscale.verify.judgement)."""

from ttscale.snake import run_script
from ttscale.verify.judgement import judgement_run

w = snakemake.wildcards
run_script(snakemake, judgement_run, samples=list(snakemake.input.samples), problems=snakemake.input.problems,
           outputs={k: v for k, v in snakemake.output.items()}, model=w.model, dataset=w.dataset, sampling=w.sampling)
