"""Snakemake entry point of the aggregate stage (logic: ttscale.aggregate.aggregate_run)."""

from ttscale.aggregate import aggregate_run
from ttscale.snake import run_script

w, p = snakemake.wildcards, snakemake.params
run_script(snakemake, aggregate_run, samples=list(snakemake.input.samples), verdicts=list(snakemake.input.verdicts),
           scores=dict(p.score_files), problems=snakemake.input.problems, out_samples=snakemake.output.samples,
           out_problems=snakemake.output.problems, model=w.model, dataset=w.dataset, sampling=w.sampling,
           exclude=list(p.exclude), samples_per_problem=p.samples_per_problem, threads=snakemake.threads)
