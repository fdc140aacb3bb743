"""`ttscale power --configfile C`: the power of planned designs from a pilot's shards (ttscale.analysis.power)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ttscale.cli import COMMANDS


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--configfile", default="config/config.yaml", help="experiment config with a `power:` section")
    p.add_argument("--out", default=None, help="where the tables go (default: <results>/<experiment>/power)")


def _run(args: argparse.Namespace) -> int:
    import ttscale.plan  # noqa: F401  (imports the stages, which register their config checks)
    from ttscale.analysis.power import run_power
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


def power_tables(rows: list[dict[str, Any]], best: list[dict[str, Any]], out: Path, digits: int = 3) -> list[Path]:
    """power.{csv,md,tex} (every design) and power_designs.{csv,md,tex} (the cheapest that suffice)."""
    from ttscale.report.tables import Column, write_all  # here: the report package imports matplotlib

    cols = [Column("comparison", "comparison", "text"), Column("bin", "bin", "text"), Column("k", "k", "int"),
            Column("difference", "difference"), Column("problems", "problems", "int"),
            Column("samples", "samples/problem", "int"), Column("power_parametric", "power (Beta)"),
            Column("power_nonparametric", "power (resampled)"), Column("total_samples", "samples", "int"),
            Column("tokens", "tokens", "sci"), Column("gpu_hours", "device hours")]
    bcols = [Column("comparison", "comparison", "text"), Column("method", "method", "text"),
             Column("problems", "problems", "int"), Column("samples", "samples/problem", "int"),
             Column("power", "power"), Column("total_samples", "samples", "int"),
             Column("gpu_hours", "device hours")]
    key = lambda r: (r["comparison"], r["problems"], r["samples"])  # noqa: E731
    return (write_all(out / "power", sorted(rows, key=key), cols, digits, "Power of each design")
            + write_all(out / "power_designs", best, bcols, digits, "Cheapest design reaching the target power"))
