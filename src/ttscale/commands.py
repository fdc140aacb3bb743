"""Imports the modules that register `ttscale` subcommands (see ttscale.cli.COMMANDS)."""

import ttscale.importers.cli  # (ttscale import ..., ttscale analyze ...)
import ttscale.verify.cli  # noqa: F401  (ttscale verify humaneval ...)
