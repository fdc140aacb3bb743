"""Snakemake entry point of the imperfect-verifier analysis (logic: ttscale.analysis.imperfect)."""

from ttscale.analysis.imperfect import imperfect_experiment
from ttscale.snake import run_script

i = snakemake.input
run_script(snakemake, imperfect_experiment,
           runs=[{"samples": s, "problems": p} for s, p in zip(i.samples, i.problems, strict=True)],
           outputs={k: v for k, v in snakemake.output.items()}, settings=snakemake.params.settings,
           seed=snakemake.params.seed, threads=snakemake.threads)
