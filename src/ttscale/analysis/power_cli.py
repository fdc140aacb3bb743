"""`ttscale power --configfile C`: the power of planned designs from a pilot's shards (ttscale.analysis.power)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ttscale.cli import COMMANDS


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--configfile", default="config/config.yaml", help="experiment config with a `power:` section")
    p.add_argument("--out", default=None, help="where the tables go (default: <results>/<experiment>/power)")


def _run(args: argparse.Namespace) -> int:
    from ttscale.analysis.power import power_tables, run_power
    from ttscale.config import experiment_dir, load_config

    config = load_config(args.configfile)
    exp = experiment_dir(config)
    rows, best = run_power(config, exp)
    paths = power_tables(rows, best, Path(args.out) if args.out else exp / "power")
    print(Path(paths[1]).read_text(encoding="utf-8"))
    print(Path(paths[4]).read_text(encoding="utf-8"))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


COMMANDS.register("power")(("power analysis of planned designs from a pilot run's shards", _args, _run))
