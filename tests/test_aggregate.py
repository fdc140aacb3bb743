"""Aggregation over synthetic shards: the join, the per-problem table and the count checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ttscale.aggregate import aggregate_run, score_column
from ttscale.errors import DataError
from ttscale.io import read_metadata
from ttscale.testing.synthetic import SyntheticSpec, write_run

SPEC = SyntheticSpec(n_problems=12, samples=48, block_size=16, problems_per_block=5, scorers=("orm", "prm"))


@pytest.fixture
def run(tmp_path: Path) -> dict:
    files = write_run(tmp_path / "exp", SPEC)
    files["out"] = tmp_path / "agg"
    return files


def aggregate(files: dict, **kw) -> dict:
    args = {"samples": files["samples"], "verdicts": files["verdicts"], "scores": files["scores"],
            "problems": files["problems"], "out_samples": files["out"] / "samples.parquet",
            "out_problems": files["out"] / "problems.parquet", "model": SPEC.model, "dataset": SPEC.dataset,
            "sampling": SPEC.sampling, "samples_per_problem": SPEC.samples}
    args.update(kw)
    return aggregate_run(**args)


def all_rows(paths: list[str]) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in paths])


def test_join_matches_the_shards(run):
    summary = aggregate(run)
    out = pq.read_table(run["out"] / "samples.parquet")
    assert out.num_rows == SPEC.n_problems * SPEC.samples == summary["rows"]
    expected = {"model", "dataset", "sampling", "problem_id", "sample_index", "correct", "status", "answer_key",
                "prompt_tokens", "completion_tokens", "cumulative_logprob", score_column("orm"),
                score_column("prm"), score_column("prm", "last"), score_column("prm", "mean")}
    assert expected <= set(out.column_names)
    assert set(out["model"].unique().to_pylist()) == {SPEC.model}
    # every value lands on its own (problem, sample) key: compare against the shards joined in Python
    v = all_rows(run["verdicts"]).to_pydict()
    want = {(p, i): (c, k) for p, i, c, k in zip(v["problem_id"], v["sample_index"], v["correct"], v["answer_key"],
                                                 strict=True)}
    o = out.to_pydict()
    got = {(p, i): (c, k) for p, i, c, k in zip(o["problem_id"], o["sample_index"], o["correct"], o["answer_key"],
                                                strict=True)}
    assert got == want
    sc = all_rows(run["scores"]["prm"]).to_pydict()
    want_s = dict(zip(zip(sc["problem_id"], sc["sample_index"], strict=True), sc["score_last"], strict=True))
    got_s = dict(zip(zip(o["problem_id"], o["sample_index"], strict=True), o[score_column("prm", "last")], strict=True))
    assert got_s == want_s
    meta = read_metadata(run["out"] / "samples.parquet")
    assert meta["scorers"] == ["orm", "prm"] and meta["keyed_blocks"] == []


def test_problem_table(run):
    aggregate(run)
    probs = pq.read_table(run["out"] / "problems.parquet").to_pylist()
    assert [p["position"] for p in probs] == list(range(SPEC.n_problems))
    v = all_rows(run["verdicts"])
    for p in probs:
        mine = v.filter(pc.equal(v["problem_id"], p["problem_id"]))
        assert p["n"] == SPEC.samples
        assert p["n_correct"] == pc.sum(mine["correct"].cast(pa.int64())).as_py()
        assert p["pass_at_1"] == pytest.approx(p["n_correct"] / p["n"])
        assert p["n_no_answer"] == mine["answer_key"].null_count
        assert p["level"] in SPEC.levels


def test_excluded_problems_are_left_out(run):
    gone = [f"{SPEC.dataset}/3", f"{SPEC.dataset}/7"]
    summary = aggregate(run, exclude=[*gone, "not-a-problem"])
    out = pq.read_table(run["out"] / "samples.parquet", columns=["problem_id"])
    assert not set(gone) & set(out["problem_id"].unique().to_pylist())
    assert summary["excluded"] == sorted(gone)
    assert pq.read_table(run["out"] / "problems.parquet").num_rows == SPEC.n_problems - 2


def test_reordered_shard_is_joined_by_key(run):
    path = run["verdicts"][1]
    t = pq.read_table(path)
    pq.write_table(t.take(np.random.default_rng(0).permutation(t.num_rows)), path)
    summary = aggregate(run)
    assert summary["keyed_blocks"] == [Path(path).stem]
    out = pq.read_table(run["out"] / "samples.parquet").to_pydict()
    v = all_rows(run["verdicts"]).to_pydict()
    want = dict(zip(zip(v["problem_id"], v["sample_index"], strict=True), v["correct"], strict=True))
    got = dict(zip(zip(out["problem_id"], out["sample_index"], strict=True), out["correct"], strict=True))
    assert got == want


def test_missing_verdict_rows_are_named(run):
    path = run["verdicts"][2]
    t = pq.read_table(path)
    pq.write_table(t.slice(0, t.num_rows - 3), path)
    with pytest.raises(DataError) as err:
        aggregate(run)
    msg = str(err.value)
    assert path in msg and "3 sample row(s)" in msg and "have no verdicts row" in msg
    last = t.slice(t.num_rows - 1).to_pylist()[0]
    assert repr(last["problem_id"]) in msg and str(last["sample_index"]) in msg
    assert not (run["out"] / "samples.parquet").exists()  # nothing written on failure


def test_missing_score_row_and_shard_are_named(run):
    path = run["scores"]["orm"][0]
    t = pq.read_table(path)
    pq.write_table(t.slice(1), path)
    with pytest.raises(DataError, match=r"scorer=orm.*: 1 sample row.*no scores \(scorer orm\) row"):
        aggregate(run)
    Path(path).unlink()
    with pytest.raises(DataError, match=r"scores \(scorer orm\): 1 shard\(s\) missing"):
        aggregate(run)


def test_duplicate_and_extra_rows(run):
    path = run["verdicts"][0]
    t = pq.read_table(path)
    pq.write_table(pa.concat_tables([t, t.slice(0, 1)]), path)
    with pytest.raises(DataError, match="match no sample row"):
        aggregate(run)


def test_duplicate_sample_is_named(run):
    for stage in ("samples", "verdicts"):  # the partner mirrors it, so only the sample check can see it
        path = run[stage][0]
        t = pq.read_table(path)
        pq.write_table(pa.concat_tables([t.slice(0, t.num_rows - 1), t.slice(0, 1)]), path)
    for path in (run["scores"]["orm"][0], run["scores"]["prm"][0]):
        t = pq.read_table(path)
        pq.write_table(pa.concat_tables([t.slice(0, t.num_rows - 1), t.slice(0, 1)]), path)
    with pytest.raises(DataError, match=r"sample 0 appears 2 times"):
        aggregate(run)


def test_sample_count_must_match_the_plan(run):
    with pytest.raises(DataError, match="expected 0..63"):
        aggregate(run, samples_per_problem=64)


def test_wrong_columns_are_named(run):
    path = run["verdicts"][0]
    pq.write_table(pq.read_table(path).drop(["correct"]), path)
    with pytest.raises(DataError, match=r"missing column 'correct'"):
        aggregate(run)


def test_a_searchs_own_step_scores_stand_for_its_guides_score_shards(run):
    """A beam or DVTS run's guide (ttscale.plan.search_scorer): its columns come from the step scores the
    search wrote into the sample shards, equal to what a score shard of a process scorer holds."""
    from ttscale.score.base import row

    rng = np.random.default_rng(4)
    prm = {(r["problem_id"], r["sample_index"]): rng.uniform(0.05, 1, rng.integers(1, 5)).tolist()
           for r in all_rows(run["samples"]).to_pylist()}
    odd = {}  # an answer without steps (empty list) and one without step scores (NULL): NULL columns
    for k, path in enumerate(run["samples"]):
        t = pq.read_table(path)
        steps = [prm[key] for key in zip(t["problem_id"].to_pylist(), t["sample_index"].to_pylist(), strict=True)]
        if k == 1:
            steps[0], steps[1] = [], None
            odd = {(t["problem_id"][i].as_py(), t["sample_index"][i].as_py()) for i in (0, 1)}
        pq.write_table(t.append_column("step_scores", pa.array(steps, pa.list_(pa.float64()))), path)
    path = run["verdicts"][2]  # a re-ordered verdict shard: the keyed join reads the step scores too
    t = pq.read_table(path)
    pq.write_table(t.take(np.random.default_rng(1).permutation(t.num_rows)), path)
    summary = aggregate(run, scores={"orm": run["scores"]["orm"]}, search_scorer={"name": "prm", "aggregation": "prod"})
    assert summary["scorers"] == ["orm", "prm"] and summary["keyed_blocks"] == [Path(path).stem]
    out = pq.read_table(run["out"] / "samples.parquet").to_pylist()
    assert len(out) == SPEC.n_problems * SPEC.samples
    for r in out:
        key = (r["problem_id"], r["sample_index"])
        own = row(None, steps=prm[key], ends=[], default="prod") if key not in odd else row(None)
        for a in ("last", "min", "prod", "mean"):
            assert r[score_column("prm", a)] == pytest.approx(own[f"score_{a}"]), (key, a)
        assert r[score_column("prm")] == pytest.approx(own["score"])
    assert sum(r[score_column("prm")] is None for r in out) == len(odd) == 2
    assert sum(r[score_column("prm")] is not None for r in out) == len(out) - 2  # the test compares real values
    with pytest.raises(DataError, match="prm has score shards and is the search's own scorer"):
        aggregate(run, search_scorer={"name": "prm", "aggregation": "min"})
    bare = write_run(run["out"].parent / "bare", SPEC)
    with pytest.raises(DataError, match="no step_scores column.*search's shard"):
        aggregate({**bare, "out": run["out"]}, scores={}, search_scorer={"name": "prm", "aggregation": "min"})
