"""Imports the modules that register `ttscale` subcommands (see ttscale.cli.COMMANDS)."""

# Each stage package that offers a subcommand is imported here, e.g.:
#   import ttscale.verify.cli
