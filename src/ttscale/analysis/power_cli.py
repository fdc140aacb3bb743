"""Entry points of the power analysis (ttscale.analysis.power): `ttscale power --configfile C` and the
workflow's power rule. They plan runs and write report tables, so they sit above the analysis."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ttscale.cli import COMMANDS
from ttscale.errors import ConfigError


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


# --- the workflow stage -------------------------------------------------------------------------------

def _planned_run(config: dict[str, Any], spec: dict[str, Any], where: str) -> Any:
    from ttscale.plan import runs

    found = [r for r in runs(config) if r.strategy is None and r.model == spec["model"]
             and r.dataset == spec["dataset"] and spec.get("sampling") in (None, r.preset, r.key)]
    if len(found) != 1:
        what = "no planned run" if not found else f"{len(found)} planned runs ({', '.join(r.key for r in found)})"
        raise ConfigError(f"{where}: {what} of model {spec['model']!r} on dataset {spec['dataset']!r}"
                          + (f" with sampling {spec['sampling']!r}" if spec.get("sampling") else "")
                          + "; name a planned run (and its sampling preset when there are several)")
    return found[0]


def pilot_shards(config: dict[str, Any]) -> list[str]:
    """The verdict shards of every run the comparisons name (inputs of the workflow's power rule)."""
    from ttscale.plan import shards

    out: list[str] = []
    for cmp in (config.get("power") or {}).get("comparisons") or []:
        for side in ("a", "b"):
            run = _planned_run(config, cmp[side], f"power.comparisons.{cmp['name']}.{side}")
            out += [s for s in shards(config, "verdicts", run) if s not in out]
    return out


def power_stage(config: dict[str, Any], out_dir: str, digits: int = 4) -> None:
    """The workflow's power rule: this experiment's own runs are the pilot; tables into the report."""
    from ttscale.analysis.power import run_power
    from ttscale.config import experiment_dir

    cfg = dict(config)
    cmps = []
    for cmp in config["power"]["comparisons"]:
        cmp = dict(cmp)
        for side in ("a", "b"):
            run = _planned_run(config, cmp[side], f"power.comparisons.{cmp['name']}.{side}")
            cmp[side] = {**cmp[side], "sampling": run.key}
        cmps.append(cmp)
    cfg["power"] = {**config["power"], "comparisons": cmps}
    rows, best = run_power(cfg, experiment_dir(config))
    power_tables(rows, best, Path(out_dir), digits)
