"""Snakemake entry point of the compute ledger (logic: ttscale.ledger.write_ledger)."""

from pathlib import Path

from ttscale.ledger import write_ledger
from ttscale.snake import run_script

run_script(snakemake, write_ledger, config=snakemake.config, runs=snakemake.params.runs,
           bench_dir=snakemake.params.bench, outputs={k: v for k, v in snakemake.output.items()}, root=Path.cwd())
