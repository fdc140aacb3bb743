"""Snakemake entry point of the report's imperfect-verifier section (logic: ttscale.report.imperfect)."""

from ttscale.report import report_settings
from ttscale.report.imperfect import make_imperfect_report
from ttscale.snake import run_script

st = report_settings(snakemake.params.settings)
run_script(snakemake, make_imperfect_report, inputs={k: v for k, v in snakemake.input.items()},
           out_dir=snakemake.params.out_dir, datasets=snakemake.params.datasets, dpi=st["dpi"], digits=st["digits"])
