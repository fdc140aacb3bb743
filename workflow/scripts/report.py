"""Snakemake entry point of the report stage (logic: ttscale.report.make_report)."""

from ttscale.report import make_report
from ttscale.snake import run_script

run_script(snakemake, make_report, inputs=dict(snakemake.input.items()),
           out_dir=snakemake.params.out_dir, settings=snakemake.params.settings)
