"""Imports the modules that register `ttscale` subcommands (see ttscale.cli.COMMANDS)."""

import ttscale.analysis.power_cli  # (ttscale power)
import ttscale.importers.cli  # (ttscale import ..., ttscale analyze ...)
import ttscale.verify.cli  # (ttscale verify humaneval ...)
import ttscale.warm  # noqa: F401  (ttscale warm status|stop)
