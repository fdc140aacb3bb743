"""Snakemake entry point that builds a model folder (logic: ttscale.models.build)."""

from ttscale.models.build import build
from ttscale.snake import run_script

run_script(snakemake, build, name=snakemake.params.builder, out=snakemake.output[0])
