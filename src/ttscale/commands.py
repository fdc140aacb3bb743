"""Imports the modules that register `ttscale` subcommands (see ttscale.cli.COMMANDS)."""

import ttscale.verify.cli  # noqa: F401  (ttscale verify humaneval ...)
