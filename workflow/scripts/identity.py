"""Snakemake entry point of the identity rules (problem_ids, identity): write the rule's one
param, the identity text, atomically (ttscale.snake.write_identity)."""

from ttscale.snake import write_identity

write_identity(snakemake.output[0], snakemake.params[0], snakemake.log[0])
