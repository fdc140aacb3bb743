"""The `ttscale` command. Each package adds its subcommands through COMMANDS.

A subcommand is registered as name -> (help, add_arguments, run); `run(args)` returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from ttscale.errors import TtscaleError
from ttscale.registry import Registry

Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
COMMANDS: Registry[Command] = Registry("ttscale command")

# Modules that register subcommands when imported (kept lazy so `ttscale --help` stays fast).
COMMAND_MODULES = ["ttscale.analysis.power_cli", "ttscale.importers.cli", "ttscale.verify.cli", "ttscale.warm"]


def _plan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--configfile", default="config/config.yaml", help="experiment config (YAML)")


def _plan(args: argparse.Namespace) -> int:
    from ttscale.config import load_config
    from ttscale.plan import runs

    config = load_config(args.configfile)
    total_blocks = 0
    for r in runs(config):
        total_blocks += len(r.blocks)
        print(f"{r.model:>16} {r.dataset:>16} {r.key:>24}  {r.n_problems} problems x "
              f"{r.samples_per_problem} samples = {r.n_samples} in {len(r.blocks)} blocks")
    print(f"total: {total_blocks} blocks")
    return 0


COMMANDS.register("plan")(("show the runs and blocks a config plans", _plan_args, _plan))


def main(argv: list[str] | None = None) -> int:
    for mod in COMMAND_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
    parser = argparse.ArgumentParser(prog="ttscale", description="inference-scaling experiments")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        help_, add_args, _ = COMMANDS.get(name)
        add_args(sub.add_parser(name, help=help_, description=help_))
    args = parser.parse_args(argv)
    _, _, run = COMMANDS.get(args.command)
    try:
        return run(args)
    except TtscaleError as exc:
        print(f"ttscale: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
