"""Snakemake entry point of the report's math judgement tables (logic: ttscale.report.imperfect)."""

from ttscale.report import report_settings
from ttscale.report.imperfect import make_judgement_report
from ttscale.snake import run_script

run_script(snakemake, make_judgement_report, summaries=list(snakemake.input.summaries),
           samples=list(snakemake.input.samples), out_dir=snakemake.params.out_dir,
           digits=report_settings(snakemake.params.settings)["digits"])
