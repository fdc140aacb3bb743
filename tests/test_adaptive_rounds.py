"""Adaptive mode's rounds (ttscale.analysis.rounds) without Snakemake: round blocks, the decisions
between rounds, planning, and aggregation + analysis of a run sampled in rounds (synthetic shards
driven by the real decisions). The real workflow: tests/test_adaptive_workflow.py."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ttscale.aggregate import aggregate_run
from ttscale.analysis.adaptive import coverage_values
from ttscale.analysis.rounds import (
    block_subset,
    decide,
    decision_path,
    planned_counts,
    read_decision,
    round_blocks,
    round_ends,
    round_of,
    round_successes,
    settings_of,
)
from ttscale.analysis.run import analyze_run
from ttscale.blocks import Block
from ttscale.errors import ConfigError, DataError
from ttscale.io import write_table
from ttscale.plan import runs
from ttscale.testing.synthetic import SyntheticSpec, block_tables, problems_table, true_rates

TABLES = ("values", "curves", "costs", "fits", "extrapolation", "optimal")


def test_round_blocks_follow_the_schedule_and_the_problem_grid():
    ends = round_ends({"first": 2, "growth": 2.0}, 8)
    assert ends.tolist() == [2, 4, 8]
    r0 = round_blocks(ends, 0, 5, block_size=4, problems_per_block=2)
    assert [b.name for b in r0] == ["p00000-00002_s000000-000002", "p00002-00004_s000000-000002",
                                    "p00004-00005_s000000-000002"]
    # round 2 (samples 4..7) split by block_size 3; only problem blocks holding a chosen position
    r2 = round_blocks(ends, 2, 5, block_size=3, problems_per_block=2, positions=[1, 4])
    assert [b.name for b in r2] == ["p00000-00002_s000004-000007", "p00000-00002_s000007-000008",
                                    "p00004-00005_s000004-000007", "p00004-00005_s000007-000008"]
    assert [round_of(ends, b) for b in r0 + r2] == [0, 0, 0, 2, 2, 2, 2]
    with pytest.raises(DataError, match="lie in no round"):
        round_of(ends, Block.parse("p00000-00002_s000001-000003"))
    assert round_blocks(ends, 1, 5, 4, 2, positions=[]) == []


def test_settings_defaults_and_errors():
    cfg = {"datasets": {"a": {"adaptive": {"rule": "successes", "first": 4}}, "b": {}}}
    assert settings_of(cfg, "a") == {"rule": "successes", "first": 4, "growth": 2.0, "successes": 1,
                                     "tolerance": 0.1, "budget": None}
    assert settings_of(cfg, "b") is None
    cfg["datasets"]["a"]["adaptive"]["rule"] = "nope"
    with pytest.raises(ConfigError, match="datasets.a.adaptive.rule"):
        settings_of(cfg, "a")


def _verdicts(path: Path, rows: list[tuple[str, int, bool]]) -> str:
    pq.write_table(pa.table({"problem_id": [r[0] for r in rows], "sample_index": [r[1] for r in rows],
                             "correct": [r[2] for r in rows]}), path)
    return str(path)


def test_decisions_chain_rounds_and_check_counts(tmp_path):
    spec = SyntheticSpec(n_problems=4, samples=8, problems_per_block=2)
    write_table(tmp_path / "problems.parquet", problems_table(spec))
    pids = problems_table(spec)["problem_id"].to_pylist()
    st = {"rule": "successes", "successes": 1, "first": 2, "growth": 2.0}
    # round 0: problem 0 solved twice, problem 2 once, problems 1 and 3 never
    v0 = _verdicts(tmp_path / "v0.parquet", [(p, i, (j == 0) or (j == 2 and i == 1)) for j, p in enumerate(pids)
                                             for i in range(2)])
    d1 = tmp_path / "round01.json"
    decide(settings=st, target=8, r=1, problems=tmp_path / "problems.parquet", verdicts=[v0], previous=None,
           output=d1)
    got = read_decision(d1)
    assert got["selected"] == [pids[1], pids[3]] and got["positions"] == [1, 3] and got["samples"] == [2, 4]
    assert got["rounds"] == {pids[0]: 1, pids[1]: 2, pids[2]: 1, pids[3]: 2}
    assert block_subset(d1, "p00000-00002_s000002-000004") == [pids[1]]
    with pytest.raises(DataError, match="no selected problem"):
        block_subset(tmp_path / "round01.json", "p00004-00006_s000002-000004")
    # round 1: problem 3 succeeds, problem 1 does not -> only problem 1 gets round 2
    v1 = _verdicts(tmp_path / "v1.parquet", [(p, i, p == pids[3] and i == 3) for p in (pids[1], pids[3])
                                             for i in (2, 3)])
    d2 = tmp_path / "round02.json"
    decide(settings=st, target=8, r=2, problems=tmp_path / "problems.parquet", verdicts=[v0, v1], previous=d1,
           output=d2)
    assert read_decision(d2)["selected"] == [pids[1]]
    before = d2.read_bytes()
    decide(settings=st, target=8, r=2, problems=tmp_path / "problems.parquet", verdicts=[v0, v1], previous=d1,
           output=d2)
    assert d2.read_bytes() == before  # deterministic
    assert planned_counts(np.array([2, 4, 8]), pids, [read_decision(d1), read_decision(d2)]) == {
        pids[0]: 2, pids[1]: 8, pids[2]: 2, pids[3]: 4}
    # a lost verdict row stops the decision with the problem named; nothing written
    short = _verdicts(tmp_path / "short.parquet", [(p, i, False) for p in (pids[1],) for i in (2, 3)])
    with pytest.raises(DataError, match=rf"{pids[3]!r}: 2 verdicts, its 2 round\(s\) planned 4"):
        decide(settings=st, target=8, r=2, problems=tmp_path / "problems.parquet", verdicts=[v0, short],
               previous=d1, output=tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()
    assert decision_path("results/x", "model=m/dataset=d/sampling=s-0", 3) == \
        "results/x/adaptive/model=m/dataset=d/sampling=s-0/round03.json"


def test_planning_an_adaptive_dataset(tmp_path):
    base = {"experiment": "e", "seed": 0, "samples_per_problem": 16, "block_size": 8, "problems_per_block": 3,
            "models": {"m": {"path": str(tmp_path)}},
            "datasets": {"d": {"loader": "jsonl", "args": {"path": str(tmp_path / "p.jsonl")}, "limit": 5}},
            "sampling": {"default": {"temperature": 1.0}}}
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"id": f"q{i}", "question": "?", "answer": "1"}) + "\n"
                                              for i in range(5)))
    uniform = runs(base, tmp_path)[0]
    cfg = copy.deepcopy(base)
    cfg["datasets"]["d"]["adaptive"] = {"first": 4, "growth": 2}
    (run,) = runs(cfg, tmp_path)
    assert run.ends == (4, 8, 16) and uniform.ends is None
    assert [b.name for b in run.blocks] == ["p00000-00003_s000000-000004", "p00003-00005_s000000-000004"]
    assert run.key != uniform.key  # the rounds decide which problems hold which samples
    cfg["datasets"]["d"]["adaptive"] = {"first": 4, "growth": 2.0, "rule": "band"}  # defaults written out
    assert runs(cfg, tmp_path)[0].key == run.key
    cfg["datasets"]["d"]["samples_per_problem"] = 32
    assert runs(cfg, tmp_path)[0].key != run.key


def _simulate_rounds(root: Path, spec: SyntheticSpec, settings: dict, target: int) -> dict:
    """Synthetic shards of an adaptive run, round by round, with the real decisions between rounds."""
    part = f"model={spec.model}/dataset={spec.dataset}/sampling={spec.sampling}"
    problems = root / "problems" / f"{spec.dataset}.parquet"
    write_table(problems, problems_table(spec))
    rates = true_rates(spec)
    ends = round_ends(settings, target)
    files: dict = {"samples": [], "verdicts": [], "scores": {s: [] for s in spec.scorers}, "decisions": []}
    positions = None
    for r in range(len(ends)):
        if r:
            d = root / "adaptive" / part / f"round{r:02d}.json"
            decide(settings=settings, target=target, r=r, problems=problems, verdicts=files["verdicts"],
                   previous=files["decisions"][-1] if files["decisions"] else None, output=d)
            files["decisions"].append(str(d))
            dec = read_decision(d)
            positions = dec["positions"]
            if not positions:
                break
        for blk in round_blocks(ends, r, spec.n_problems, spec.block_size, spec.problems_per_block, positions):
            keep = None if positions is None else block_subset(files["decisions"][-1], blk.name)
            for stage, table in block_tables(spec, blk, rates).items():
                if keep is not None:
                    table = table.filter(pc.is_in(table["problem_id"], pa.array(keep)))
                if stage.startswith("scores/"):
                    scorer = stage.split("/", 1)[1]
                    path = root / "scores" / f"scorer={scorer}" / part / f"{blk.name}.parquet"
                    files["scores"][scorer].append(str(path))
                else:
                    path = root / stage / part / f"{blk.name}.parquet"
                    files[stage].append(str(path))
                write_table(path, table)
    files["problems"], files["ends"] = str(problems), ends
    return files


@pytest.mark.parametrize("settings", [{"rule": "successes", "successes": 1, "first": 4, "growth": 2.0},
                                      {"rule": "band", "tolerance": 0.1, "first": 4, "growth": 2.0}])
def test_aggregate_and_analyze_a_run_sampled_in_rounds(tmp_path, settings):
    spec = SyntheticSpec(n_problems=40, samples=64, block_size=16, problems_per_block=10, scorers=("orm",), seed=3,
                         alpha=0.3, beta=2.0)
    f = _simulate_rounds(tmp_path / "exp", spec, settings, target=64)
    ends = f["ends"]
    pids = problems_table(spec)["problem_id"].to_pylist()
    decisions = [read_decision(d) for d in f["decisions"]]
    planned = planned_counts(ends, pids, decisions)
    assert len(set(planned.values())) > 1 and sum(planned.values()) < 40 * 64  # fewer samples than uniform
    agg = tmp_path / "agg"
    kw = dict(samples=f["samples"], verdicts=f["verdicts"], scores=f["scores"], problems=f["problems"],
              out_samples=agg / "samples.parquet", out_problems=agg / "problems.parquet", model=spec.model,
              dataset=spec.dataset, sampling=spec.sampling)
    with pytest.raises(DataError, match="expected 0..63"):  # the uniform count check refuses the rounds
        aggregate_run(**kw, samples_per_problem=64)
    aggregate_run(**kw, samples_per_problem=planned)
    probs = pq.read_table(agg / "problems.parquet").to_pylist()
    assert {p["problem_id"]: p["n"] for p in probs} == planned
    outs = {t: tmp_path / "an" / f"{t}.parquet" for t in TABLES}
    analyze_run(agg / "samples.parquet", agg / "problems.parquet", outs, {"bootstrap": 200, "fit": {"bootstrap": 30}},
                {}, seed=1, adaptive={"ends": ends.tolist()})
    curves = pq.read_table(outs["curves"]).to_pylist()
    meta = json.loads(pq.read_schema(outs["curves"]).metadata[b"ttscale"])
    cov = sorted((r for r in curves if r["metric"] == "coverage" and r["selector"] == "oracle"
                  and r["scheme"] == "all"), key=lambda r: r["k"])
    # coverage from the estimator valid under the rule, at every k it can estimate
    t = pq.read_table(agg / "samples.parquet")
    rounds, succ = round_successes(ends, pids, t["problem_id"].to_pylist(), t["sample_index"].to_numpy(),
                                   t["correct"].to_numpy(zero_copy_only=False))
    reach = meta["adaptive"]["coverage_max_k"]
    ks = np.array([r["k"] for r in cov])
    assert ks.max() == reach and reach == 64  # unsolved problems run to the target under both rules
    assert np.allclose([r["value"] for r in cov], coverage_values(ends, rounds, succ, ks).mean(axis=0))
    assert all(r["ci_lo"] <= r["value"] <= r["ci_hi"] for r in cov)
    # selectors only on the first round (k <= 4), which every problem got
    acc = [r for r in curves if r["metric"] == "accuracy"]
    assert acc and max(r["k"] for r in acc) == 4 and meta["adaptive"]["selectors_max_k"] == 4
    assert meta["adaptive"]["samples"] == sum(planned.values()) and meta["n"] == 64
    values = pq.read_table(outs["values"]).to_pylist()
    assert values and all(np.isfinite(v["value"]) for v in values)
    assert max(v["k"] for v in values if v["selector"] != "oracle") == 4
    fits = pq.read_table(outs["fits"]).to_pylist()
    assert fits[0]["fit_on"] == "all"
    opt = pq.read_table(outs["optimal"]).to_pylist()
    assert all(r["k"] <= 4 for r in opt)
