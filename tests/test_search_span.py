"""A search run spans its strategy's budgets (one run, one job per problem block): its key and labels,
its plan, the split of its aggregate into one run per budget, and the readers that take one budget
of its files (ttscale.keys, ttscale.plan, ttscale.aggregate, ttscale.io, ttscale.analysis.power_selector,
ttscale.ledger). The real search through Snakemake, with the reuse of shared budgets: test_search_engine."""

from __future__ import annotations

import copy

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ttscale import keys, ledger
from ttscale.aggregate import budget_parts, split_budgets
from ttscale.analysis.power_selector import read_selector_pilot
from ttscale.config import validate
from ttscale.io import read_run
from ttscale.plan import runs


def _config(budgets: list[int]) -> dict:
    return validate({
        "seed": 0, "samples_per_problem": 4, "block_size": 4, "problems_per_block": 3,
        "models": {"m": {"path": "x"}},
        "datasets": {"d": {"loader": "reasoning_gym", "args": {"task": "basic_arithmetic", "size": 5, "seed": 1}}},
        "sampling": {"beam": {"temperature": 0.7, "max_tokens": 8}},
        "scorers": {"prm": {"kind": "process", "path": "y"}},
        "strategies": {"beam": {"kind": "beam", "budgets": budgets, "beam_width": 2, "scorer": "prm"}},
    })


def test_one_run_spans_the_budgets_in_ascending_order(tmp_path):
    config = _config([8, 2, 4])
    search = [r for r in runs(config, tmp_path) if r.strategy]
    assert len(search) == 1
    run = search[0]
    assert run.budgets == (2, 4, 8) and run.samples_per_problem == 14
    assert run.key.startswith("beam-") and len(run.key) == len("beam-") + 8
    # every block holds all 14 answers of its problems: a search is never split
    assert [b.name for b in run.blocks] == ["p00000-00003_s000000-000014", "p00003-00005_s000000-000014"]
    digest = run.key.rpartition("-")[2]
    assert run.labels() == [{"budget": 2, "label": f"beam.n2-{digest}", "first": 0},
                            {"budget": 4, "label": f"beam.n4-{digest}", "first": 2},
                            {"budget": 8, "label": f"beam.n8-{digest}", "first": 6}]
    assert keys.label_key(f"beam.n4-{digest}") == (run.key, 4)
    assert keys.label_key(run.key) is None and keys.label_key("t0.8-0123abcd") is None
    assert keys.label_key("beam.n4-0123abcz") is None and keys.label_key("beam.n4-0123abc") is None
    # the order budgets are written in is not a change; another budget is (a new folder)
    assert next(r for r in runs(_config([2, 4, 8]), tmp_path) if r.strategy).key == run.key
    other = next(r for r in runs(_config([2, 4]), tmp_path) if r.strategy)
    assert other.key != run.key
    # ... of the same search: the identity without the budgets agrees (what the reuse checks)
    ident = {n: keys.search_identity(keys.strategy_identity(config, "m", "d", "beam", b, tmp_path))
             for n, b in (("a", [2, 4, 8]), ("b", [2, 4]))}
    assert ident["a"] == ident["b"]
    changed = copy.deepcopy(config)
    changed["strategies"]["beam"]["beam_width"] = 1
    assert keys.search_identity(keys.strategy_identity(changed, "m", "d", "beam", [2, 4], tmp_path)) != ident["a"]


def test_search_keys_are_told_from_presets_by_the_config(tmp_path):
    config = _config([2, 4])
    run = next(r for r in runs(config, tmp_path) if r.strategy)
    plain = next(r for r in runs(config, tmp_path) if not r.strategy)
    # the preset and the strategy share the name "beam": the hash tells the two runs apart
    assert plain.key.startswith("beam-") and plain.key != run.key
    assert keys.is_search_key(config, "m", "d", run.key, tmp_path)
    assert not keys.is_search_key(config, "m", "d", plain.key, tmp_path)


def _aggregate(path, problems, labels_first: list[tuple[int, int]], pids: list[str]) -> None:
    rows = []
    for n, first in labels_first:
        for p_i, p in enumerate(pids):
            for i in range(n):
                rows.append({"model": "m", "dataset": "d", "sampling": "beam-0a0a0a0a", "problem_id": p,
                             "sample_index": first + i, "correct": (i + p_i) % 2 == 0, "status": "ok",
                             "answer_key": str(i % 2), "prompt_tokens": 10, "completion_tokens": n * 10 + i,
                             "cumulative_logprob": -1.0, "search_prompt_tokens": 100 * n,
                             "search_completion_tokens": 1000 * n})
    table = pa.Table.from_pylist(rows)
    table = table.replace_schema_metadata({b"ttscale": b'{"model": "m", "dataset": "d", "scorers": []}'})
    pq.write_table(table, path)
    pq.write_table(pa.table({"problem_id": pids, "position": pa.array(range(len(pids)), pa.int32()),
                             "level": [None] * len(pids)}), problems)


def test_split_budgets_gives_each_budget_as_a_run_of_its_own(tmp_path):
    samples, problems = tmp_path / "agg.parquet", tmp_path / "problems.parquet"
    _aggregate(samples, problems, [(2, 0), (4, 2)], ["a", "b", "c"])
    labels = [{"budget": 2, "label": "beam.n2-0a0a0a0a", "first": 0},
              {"budget": 4, "label": "beam.n4-0a0a0a0a", "first": 2}]
    parts = split_budgets(samples, problems, labels, tmp_path)
    assert list(parts) == ["beam.n2-0a0a0a0a", "beam.n4-0a0a0a0a"]
    for b in labels:
        s, p = (pq.read_table(x) for x in parts[b["label"]])
        assert set(s["sampling"].to_pylist()) == {b["label"]} == set(p["sampling"].to_pylist())
        assert sorted(set(s["sample_index"].to_pylist())) == list(range(b["budget"]))
        assert s.num_rows == 3 * b["budget"]
        assert p["n"].to_pylist() == [b["budget"]] * 3
        assert p["search_completion_tokens"].to_pylist() == [1000 * b["budget"]] * 3
        assert p["completion_tokens_total"].to_pylist() == [sum(b["budget"] * 10 + i for i in range(b["budget"]))] * 3
        assert b'"budget"' in pq.read_schema(parts[b["label"]][0]).metadata[b"ttscale"]
    # a file pair of several labels is one pair per label for readers of one run (and itself otherwise)
    both = tmp_path / "both.parquet", tmp_path / "both_problems.parquet"
    for i in range(2):  # samples, problems
        pq.write_table(pa.concat_tables([pq.read_table(parts[b["label"]][i]) for b in labels]), both[i])
    (tmp_path / "out").mkdir()
    pairs = budget_parts(*both, tmp_path / "out")
    assert [pq.read_table(p, columns=["sampling"])["sampling"].unique().to_pylist() for p, _ in pairs] == \
        [["beam.n2-0a0a0a0a"], ["beam.n4-0a0a0a0a"]]
    assert budget_parts(*parts["beam.n2-0a0a0a0a"], tmp_path / "out") == [parts["beam.n2-0a0a0a0a"]]
    # read_run picks a label's rows
    t = read_run(both[0], ["problem_id", "sample_index"], "beam.n4-0a0a0a0a")
    assert t.column_names == ["problem_id", "sample_index"] and t.num_rows == 12
    assert read_run(both[0], ["problem_id"], "beam.n8-0a0a0a0a").num_rows == 0
    assert read_run(both[0]).num_rows == 18


def _span_shards(exp, budgets: list[int], pids: list[str]) -> None:
    rel = exp / "{}" / "model=m" / "dataset=d" / "sampling=beam-0a0a0a0a"
    total = sum(budgets)
    name = f"p00000-{len(pids):05d}_s000000-{total:06d}.parquet"
    s, v = [], []
    first = 0
    for n in budgets:
        for p in pids:
            for i in range(n):
                s.append({"problem_id": p, "sample_index": first + i, "budget": n,
                          "search_prompt_tokens": 7 * n, "search_completion_tokens": 100 * n,
                          "search_scored_tokens": 10 * n})
                # budget 4's answers are right on problem a only, budget 2's on b only
                v.append({"problem_id": p, "sample_index": first + i,
                          "correct": (n == 4 and p == "a") or (n == 2 and p == "b"), "answer_key": f"{n}{i}"})
        first += n
    for stage, rows in (("samples", s), ("verdicts", v)):
        d = rel.parent.parent.parent.parent / stage / "model=m" / "dataset=d" / "sampling=beam-0a0a0a0a"
        d.mkdir(parents=True, exist_ok=True)
        t = pa.Table.from_pylist(rows)
        t = t.set_column(1, "sample_index", t["sample_index"].cast(pa.int32()))
        pq.write_table(t, d / name)


def test_a_budget_label_reads_its_answers_from_the_runs_folder(tmp_path):
    _span_shards(tmp_path, [2, 4], ["a", "b", "c"])
    pilot = read_selector_pilot(tmp_path, "m", "d", "beam.n4-0a0a0a0a", "vote")
    assert pilot.search and pilot.correct.shape == (3, 4)
    np.testing.assert_array_equal(pilot.correct.all(axis=1), [True, False, False])
    pilot = read_selector_pilot(tmp_path, "m", "d", "beam.n2-0a0a0a0a", "vote")
    assert pilot.correct.shape == (3, 2)
    np.testing.assert_array_equal(pilot.correct.all(axis=1), [False, True, False])
    # the ledger counts each budget's search once per problem
    shard = next((tmp_path / "samples").rglob("*.parquet"))
    spent, scored = ledger.search_tokens([shard])
    assert spent == 3 * (7 + 100) * (2 + 4) and scored == 3 * 10 * (2 + 4)


def test_budgets_must_be_distinct(tmp_path):
    from ttscale.errors import ConfigError

    with pytest.raises(ConfigError, match="budgets"):
        _config([4, 4])
