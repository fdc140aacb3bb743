"""Sequential vs parallel at equal FLOPs and the thinking/answer cost split, on small hand-made tables
(the stages' files as the workflow writes them; the engine side is tests/test_reasoning_engine.py)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ttscale.analysis.run import VALUES
from ttscale.analysis.sequential import MIXED, PARALLEL, SEQUENTIAL, sequential_tables, write_sequential
from ttscale.analysis.settings import analysis_settings
from ttscale.analysis.thinking import run_costs
from ttscale.errors import DataError
from ttscale.io import write_table

P = 8
PIDS = [f"q{i}" for i in range(P)]


def _values(path, sampling, per_k):
    """per_k: k -> (per-problem value, flops per problem) for selector 'vote' (and oracle at k=1)."""
    rows = []
    for k, (vals, flops) in per_k.items():
        for sel in ("vote", "oracle") if k == 1 else ("vote",):
            for p, v in zip(PIDS, vals, strict=True):
                rows.append({"model": "m", "dataset": "d", "sampling": sampling, "selector": sel, "k": k,
                             "problem_id": p, "value": float(v), "mc_se": 0.0, "flops": float(flops),
                             "dollars": 0.0})
    write_table(path, pa.Table.from_pylist(rows, schema=VALUES), VALUES)
    return str(path)


def _samples(path, thinking):
    rows = [{"problem_id": p, "sample_index": 0, "thinking_tokens": t, "prompt_tokens": 10,
             "completion_tokens": t + 5, "thinking_status": "closed"} for p, t in zip(PIDS, thinking, strict=True)]
    pq.write_table(pa.Table.from_pylist(rows), path)
    return str(path)


@pytest.fixture
def runs(tmp_path):
    easy = np.array([1, 1, 1, 1, 0, 0, 0, 0], float)  # first half easy for everyone
    hard_long = np.array([1, 1, 1, 1, 1, 1, 0, 0], float)  # long thinking also solves two hard ones
    return [
        {"model": "m", "dataset": "d", "sampling": "rs-aaaaaaaa", "strategy": None,
         "values": _values(tmp_path / "rs.parquet", "rs-aaaaaaaa",
                           {1: (easy, 100.0), 2: (easy, 200.0), 4: (np.r_[easy[:6], 1, 0], 400.0)})},
        {"model": "m", "dataset": "d", "sampling": "bf1.n2-bbbbbbbb", "strategy": "bf1", "thinking_budget": 64,
         "values": _values(tmp_path / "bf1.parquet", "bf1.n2-bbbbbbbb", {1: (easy, 100.0), 2: (easy, 200.0)}),
         "samples": _samples(tmp_path / "bf1s.parquet", [60] * P)},
        {"model": "m", "dataset": "d", "sampling": "bf2.n1-cccccccc", "strategy": "bf2", "thinking_budget": 256,
         "values": _values(tmp_path / "bf2.parquet", "bf2.n1-cccccccc", {1: (hard_long, 300.0)}),
         "samples": _samples(tmp_path / "bf2s.parquet", [250] * P)},
    ]


def test_points_put_every_family_on_one_flops_axis(runs):
    st = analysis_settings({"bootstrap": 50})
    points, optimal = sequential_tables(runs, st, seed=1)
    pts = [r for r in points.to_pylist() if r["scheme"] == "all"]
    fam = {(r["sampling"], r["k"]): r["family"] for r in pts}
    assert fam == {("rs-aaaaaaaa", 1): PARALLEL, ("rs-aaaaaaaa", 2): PARALLEL, ("rs-aaaaaaaa", 4): PARALLEL,
                   ("bf1.n2-bbbbbbbb", 1): SEQUENTIAL, ("bf1.n2-bbbbbbbb", 2): MIXED,
                   ("bf2.n1-cccccccc", 1): SEQUENTIAL}
    long = next(r for r in pts if r["sampling"] == "bf2.n1-cccccccc")
    assert long["thinking_budget"] == 256 and long["thinking_tokens"] == 250 and long["value"] == 0.75
    assert long["flops"] == 300.0 and long["ci_lo"] <= 0.75 <= long["ci_hi"]
    # budgets are the sequential points' FLOPs; at 300 the long thinker beats anything parallel that fits
    rows = {(r["scheme"], r["bin"], r["flops_budget"]): r for r in optimal.to_pylist()}
    at300 = rows[("all", "all", 300.0)]
    assert at300["parallel"] == 0.5 and at300["sequential"] == 0.75 and at300["optimal"] == 0.75
    assert at300["gain_over_parallel"] == 0.25 and at300["candidates"] == 5
    assert json.loads(at300["choices"]) == {"all": ["T=256 · vote@1", "T=256 · vote@1"]}
    assert rows[("all", "all", 100.0)]["optimal"] == 0.5
    # difficulty bins come from the repeated-sampling run: absolute bins put the easy half in 'easy'
    assert {r["bin"] for r in optimal.to_pylist() if r["scheme"] == "absolute"} == {"all", "easy", "hard"}


def test_candidate_count_and_written_tables(runs, tmp_path):
    out = {"points": str(tmp_path / "p.parquet"), "optimal": str(tmp_path / "o.parquet")}
    summary = write_sequential(runs, out, {"bootstrap": 20}, seed=3)
    assert summary["points"] == pq.read_table(out["points"]).num_rows > 0
    again = tmp_path / "o2.parquet"
    write_sequential(runs, {**out, "optimal": str(again)}, {"bootstrap": 20}, seed=3)
    assert pq.read_table(out["optimal"]).equals(pq.read_table(again))  # seeded: the same table twice
    at300 = [r for r in pq.read_table(out["optimal"]).to_pylist() if r["scheme"] == "all" and r["flops_budget"] == 300]
    assert at300[0]["candidates"] == 5  # rs@1, rs@2, bf1@1, bf1@2, bf2@1 all cost at most 300


def test_mismatched_problems_are_an_error(runs, tmp_path):
    t = pq.read_table(runs[2]["values"])
    t = t.filter(pa.compute.not_equal(t["problem_id"], "q0"))
    pq.write_table(t, runs[2]["values"])
    with pytest.raises(DataError, match="has other problems"):
        sequential_tables(runs, analysis_settings({}), 0)


def test_thinking_costs_split_tokens_flops_and_dollars(tmp_path):
    path = tmp_path / "s.parquet"
    pq.write_table(pa.Table.from_pylist([
        {"problem_id": "a", "prompt_tokens": 10, "completion_tokens": 30, "thinking_tokens": 20,
         "thinking_status": "closed"},
        {"problem_id": "a", "prompt_tokens": 10, "completion_tokens": 40, "thinking_tokens": 40,
         "thinking_status": "unclosed"},
    ]), path)
    spec = {"path": str(tmp_path / "nomodel"), "flops": {"n_params": 1000, "n_layers": 2, "d_model": 4},
            "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0, "thinking_per_mtok": 5.0}}
    r = run_costs(path, "m", spec, "d", "s").to_pylist()[0]
    assert (r["n"], r["thinking_tokens"], r["answer_tokens"], r["unclosed"]) == (2, 30.0, 5.0, 1)
    think = [2 * 1000 * t + 2 * 2 * 4 * t * (2 * 10 + t + 1) for t in (20, 40)]
    answer = [2 * 1000 * 10 + 2 * 2 * 4 * 10 * (2 * 30 + 10 + 1), 0.0]
    assert r["thinking_flops"] == pytest.approx(np.mean(think)) and r["answer_flops"] == pytest.approx(np.mean(answer))
    assert r["thinking_dollars"] == pytest.approx(30 * 5.0 / 1e6)
    assert r["answer_dollars"] == pytest.approx(5 * 2.0 / 1e6)
    spec["price"].pop("thinking_per_mtok")  # billed like output
    assert run_costs(path, "m", spec, "d", "s").to_pylist()[0]["thinking_dollars"] == pytest.approx(30 * 2.0 / 1e6)
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"problem_id": ["a"], "prompt_tokens": [1], "completion_tokens": [2]}), plain)
    with pytest.raises(DataError, match="no thinking_tokens column"):
        run_costs(plain, "m", spec, "d", "s")


def test_report_writes_the_planned_figure_and_table(runs, tmp_path):
    from ttscale.reasoning import report_files
    from ttscale.report.sequential import sequential_report

    out = {"points": str(tmp_path / "p.parquet"), "optimal": str(tmp_path / "o.parquet")}
    write_sequential(runs, out, {"bootstrap": 20}, seed=3)
    written = sequential_report(out["points"], out["optimal"], str(tmp_path / "report"), ["d"])["files"]
    assert sorted(written) == sorted(report_files(tmp_path / "report", ["d"]))
    md = (tmp_path / "report" / "tables" / "sequential.md").read_text()
    assert "T=256 · vote@1" in md and "sequential only" in md
    assert (tmp_path / "report" / "figures" / "sequential_d.png").stat().st_size > 1000
