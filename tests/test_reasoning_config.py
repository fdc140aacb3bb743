"""The reasoning example config (config/reasoning/r1_distill.yaml) validates and plans offline: its
budget-forcing runs, the thinking cost table and the sequential-vs-parallel tables and report.
The default config plans none of the reasoning jobs (its report does not change)."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO
from workflow_utils import planned

from ttscale import plan as tplan
from ttscale.config import check, experiment_dir, validate
from ttscale.reasoning import spec_for

CONFIG = REPO / "config" / "reasoning" / "r1_distill.yaml"


def test_example_config_plans_budget_forcing_and_the_sequential_report(workdir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    config = validate(yaml.safe_load(CONFIG.read_text()), str(CONFIG))
    check(config, str(CONFIG), workdir)
    assert spec_for(config["models"]["r1_1p5b"]).end == "</think>"
    budgets = sorted({s["thinking_budget"] for s in config["strategies"].values()})
    assert budgets == [512, 1024, 2048, 4096, 8192, 16384]
    runs = tplan.runs(config, workdir)
    forced = [r for r in runs if r.strategy]
    assert len(forced) == 6 * 2  # thinking budgets x datasets, each run spanning N in {1, 8}
    assert all(r.budgets == (1, 8) and r.samples_per_problem == 9 for r in forced)
    assert len({r.key for r in forced}) == len(forced)  # every thinking budget its own directory
    jobs = planned(workdir, workdir / "config" / "reasoning" / "r1_distill.yaml")
    exp = experiment_dir(config)
    assert set(jobs["generate"]) == {p for r in runs for p in tplan.shards(config, "samples", r)}
    assert sorted(jobs["sequential"]) == [str(exp / "analysis" / "sequential.parquet"),
                                          str(exp / "analysis" / "sequential_points.parquet")]
    assert sorted(jobs["sequential_report"]) == sorted(
        [str(exp / "report" / "figures" / f"sequential_{d}.png") for d in ("aime24", "math500")]
        + [str(exp / "report" / "tables" / f"sequential.{e}") for e in ("csv", "md", "tex")])
    assert jobs["thinking_costs"] == [str(exp / "analysis" / "thinking_costs.parquet")]


@pytest.mark.parametrize("configfile", ["config/config.yaml"])
def test_default_config_plans_no_reasoning_job(workdir, configfile):
    jobs = planned(workdir, workdir / configfile)
    assert jobs.get("generate")  # it plans the usual work ...
    assert not {"sequential", "sequential_report", "thinking_costs"} & set(jobs)  # ... and nothing more
