"""Aggregate, analyze and report an experiment directory without Snakemake (`ttscale analyze`).

The workflow plans its runs from the config; imported samples have no config, so this discovers the
runs from the hive-style directories under R/samples and takes each run's verdict and score shards
by the sample shards' block names (a missing one is an error, as in the workflow). An imported run's
blocks and scorers are those its `manifest.json` lists (see ttscale.importers), never a glob: shards
of an earlier, larger import of the same source would otherwise be counted as samples.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ttscale.aggregate import aggregate_run
from ttscale.analysis.experiment import combine
from ttscale.analysis.run import analyze_run
from ttscale.analysis.tables import EXP_TABLES, RUN_TABLES
from ttscale.errors import DataError
from ttscale.importers import MANIFEST, read_manifest
from ttscale.io import read_metadata
from ttscale.report import INPUTS as REPORT_INPUTS
from ttscale.report import make_report

log = logging.getLogger(__name__)



def _value(part: Path, key: str) -> str:
    name = part.name
    if not name.startswith(f"{key}="):
        raise DataError(f"{part}: expected a directory named {key}=<value>")
    return name.split("=", 1)[1]


def _run_shards(sdir: Path) -> tuple[list[str], list[str] | None]:
    """Block file names of one run and its scorers (None: every scorer directory that has the run)."""
    if (sdir / MANIFEST).exists():
        m = read_manifest(sdir / MANIFEST)
        return [f"{b}.parquet" for b in m["blocks"]], sorted(m["scorers"])
    blocks = sorted(p.name for p in sdir.glob("*.parquet"))
    if blocks:
        try:
            imported = "importer" in read_metadata(sdir / blocks[0])
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise DataError(f"{sdir / blocks[0]}: not a readable Parquet file ({exc})") from None
        if imported:
            raise DataError(f"{sdir}: imported shards but no {MANIFEST} listing which belong to the run (the "
                            "import was cut short or made by an older ttscale); run `ttscale import` again")
    return blocks, None


def discover(exp: Path) -> list[dict[str, Any]]:
    """Runs under exp/samples: their sample shards and the matching verdict and score shards."""
    runs = []
    for sdir in sorted((exp / "samples").glob("model=*/dataset=*/sampling=*")):
        blocks, listed = _run_shards(sdir)
        if not blocks:
            continue
        rel = sdir.relative_to(exp / "samples")
        scorers = listed if listed is not None else \
            sorted(_value(d, "scorer") for d in (exp / "scores").glob("scorer=*") if (d / rel).is_dir())
        runs.append({
            "model": _value(sdir.parent.parent, "model"), "dataset": _value(sdir.parent, "dataset"),
            "sampling": _value(sdir, "sampling"), "part": str(rel),
            "samples": [str(sdir / b) for b in blocks],
            "verdicts": [str(exp / "verdicts" / rel / b) for b in blocks],
            "scores": {s: [str(exp / "scores" / f"scorer={s}" / rel / b) for b in blocks] for s in scorers},
        })
    if not runs:
        raise DataError(f"{exp}/samples: no runs (expected model=<m>/dataset=<d>/sampling=<s>/<block>.parquet)")
    return runs


def analyze_experiment(exp_dir: str | Path, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every stage after verification for all runs found under `exp_dir`; returns the report's files."""
    exp = Path(exp_dir)
    config = config or {}
    models = config.get("models") or {}
    excluded = {d: spec.get("exclude") or [] for d, spec in (config.get("datasets") or {}).items()}
    run_files = []
    for run in discover(exp):
        agg = exp / "aggregate" / run["part"]
        aggregate_run(samples=run["samples"], verdicts=run["verdicts"], scores=run["scores"],
                      problems=exp / "problems" / f"{run['dataset']}.parquet", out_samples=agg / "samples.parquet",
                      out_problems=agg / "problems.parquet", model=run["model"], dataset=run["dataset"],
                      sampling=run["sampling"], exclude=excluded.get(run["dataset"], []))
        outs = {t: str(exp / "analysis" / run["part"] / f"{t}.parquet") for t in RUN_TABLES}
        analyze_run(agg / "samples.parquet", agg / "problems.parquet", outs, config.get("analysis"),
                    models.get(run["model"], {}), int(config.get("seed", 0)), Path.cwd())
        run_files.append(outs)
    tables = {t: exp / "analysis" / f"{t}.parquet" for t in EXP_TABLES}
    combine(run_files, tables, config.get("analysis"), int(config.get("seed", 0)))
    return make_report({t: tables[t] for t in REPORT_INPUTS},
                       exp / "report", config.get("report"))
