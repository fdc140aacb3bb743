"""The analysis's inputs at their edges: missing vote weights, re-imported and cut-short imports,
unknown token counts, strict import fields, tied difficulty bins."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from ttscale.aggregate import aggregate_run
from ttscale.analysis.cost import problem_costs
from ttscale.analysis.data import load_run
from ttscale.analysis.difficulty import quantile_bins
from ttscale.analysis.estimators import group_labels, vote_at_n, vote_mc
from ttscale.analysis.experiment import summary_table
from ttscale.analysis.run import COSTS, CURVES
from ttscale.errors import DataError
from ttscale.importers import MANIFEST, import_samples
from ttscale.importers.analyze import analyze_experiment, discover
from ttscale.testing.synthetic import SyntheticSpec, write_run

# --- 1. a missing score weighs 0 in a weighted vote ------------------------------------------------

KEYS = np.array([[0, 0, 1, 1, 1, -1, 2, 0]])
CORRECT = np.array([[1, 1, 0, 0, 0, 0, 0, 1]], bool)
WEIGHTS = np.array([[0.9, 0.9, 0.3, 0.3, 0.3, 0.1, 0.1, np.nan]])


def _enumerated_wvote(k: int) -> float:
    """Weighted vote@k by enumerating every k-subset (NaN weighs 0, ties uniform)."""
    w = np.nan_to_num(WEIGHTS[0])
    total = 0.0
    subsets = list(itertools.combinations(range(KEYS.shape[1]), k))
    for sub in subsets:
        groups: dict[int, list[int]] = {}
        for i in sub:
            if KEYS[0, i] >= 0:
                groups.setdefault(int(KEYS[0, i]), []).append(i)
        if not groups:
            continue
        weight = {g: sum(w[i] for i in m) for g, m in groups.items()}
        top = max(weight.values())
        tied = [g for g, v in weight.items() if v == top]
        total += np.mean([np.mean(CORRECT[0, groups[g]]) for g in tied])
    return total / len(subsets)


def test_missing_weight_counts_zero_in_weighted_vote():
    labels, _, corr = group_labels(KEYS, CORRECT)
    assert vote_at_n(labels, corr, WEIGHTS)[0] == pytest.approx(1.0)  # was 0: a NaN group sum wins nothing
    ks = np.array([2, 5])
    (mean, se), (mean0, _) = [vote_mc(labels, corr, ks, [w], 4000, np.random.default_rng(1))[0]
                              for w in (WEIGHTS, np.nan_to_num(WEIGHTS))]
    np.testing.assert_array_equal(mean, mean0)
    for j, k in enumerate(ks):
        assert abs(mean[0, j] - _enumerated_wvote(int(k))) < 5 * se[0, j] + 1e-12


# --- 2. a re-imported, smaller source: only the new import's blocks are analyzed -------------------

def _write_jsonl(path: Path, n: int, scores: bool = False) -> Path:
    lines = []
    for p in range(6):
        for i in range(n):
            rec = {"problem_id": f"p{p}", "text": f"answer {i % 2}", "correct": (i + p) % 3 == 0,
                   "answer": str((i + p) % 3 == 0), "cumulative_logprob": -1.0 - i}
            if scores:
                rec["scores"] = {"judge": 0.5}
            lines.append(json.dumps(rec))
    path.write_text("\n".join(lines) + "\n")
    return path


MODELS = {"m": {"flops": {"n_params": 1e9, "n_layers": 4, "d_model": 256},
                "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}}


def test_reimport_of_a_smaller_source_drops_the_old_blocks(tmp_path):
    src = tmp_path / "samples.jsonl"
    exp = tmp_path / "exp"
    import_samples("jsonl", _write_jsonl(src, 4, scores=True), exp, "m", "d", block_size=2)
    out = import_samples("jsonl", _write_jsonl(src, 2), exp, "m", "d", block_size=2)
    run_dir = exp / "samples" / "model=m/dataset=d" / f"sampling={out['sampling']}"
    assert len(list(run_dir.glob("*.parquet"))) == 2  # the old block stays on disk ...
    (run,) = discover(exp)
    assert [Path(s).name for s in run["samples"]] == ["p00000-00006_s000000-000002.parquet"]  # ... unread
    assert run["scores"] == {}  # the earlier import's judge scores are not this run's
    result = analyze_experiment(exp, {"analysis": {"bootstrap": 50, "fit": {"bootstrap": 10}}, "models": MODELS})
    summary = pq.read_table(exp / "analysis" / "summary.parquet").to_pylist()
    assert [r["n"] for r in summary] == [2]
    # 3. no --tokenizer: token counts unknown, so costs are missing (not 0 FLOPs / $0) and the report copes
    costs = pq.read_table(exp / "analysis" / "costs.parquet").to_pylist()
    assert all(np.isnan(r[c]) for r in costs for c in ("completion_tokens", "prompt_flops", "decode_dollars"))
    curves = pq.read_table(exp / "analysis" / "curves.parquet").to_pylist()
    assert all(np.isnan(r["flops"]) and np.isnan(r["dollars"]) for r in curves)
    assert np.isnan(summary[0]["flops_per_sample"]) and np.isnan(summary[0]["dollars_per_sample"])
    table = (exp / "report" / "tables" / "summary.csv").read_text().splitlines()
    row = dict(zip(table[0].split(","), table[1].split(","), strict=True))
    assert row["flops_per_sample"] == "" and row["dollars_per_sample"] == ""
    assert any(Path(f).name == "cost_d.png" for f in result["files"])


def test_cut_short_import_is_refused_and_workflow_runs_still_glob(tmp_path):
    exp = tmp_path / "exp"
    out = import_samples("jsonl", _write_jsonl(tmp_path / "s.jsonl", 2), exp, "m", "d")
    run_dir = exp / "samples" / "model=m/dataset=d" / f"sampling={out['sampling']}"
    (run_dir / MANIFEST).unlink()
    with pytest.raises(DataError, match=f"{run_dir}: imported shards but no {MANIFEST}"):
        discover(exp)
    (run_dir / MANIFEST).write_text('{"blocks": ["nope"], "scorers": []}')
    with pytest.raises(DataError, match="manifest.json: key `blocks`"):
        discover(exp)
    spec = SyntheticSpec(n_problems=4, samples=8, block_size=4, scorers=("orm",), seed=1)
    write_run(tmp_path / "wf", spec)  # planned by the workflow: no importer metadata, no manifest
    (run,) = discover(tmp_path / "wf")
    assert len(run["samples"]) == 2 and list(run["scores"]) == ["orm"]


# --- 3. unknown token counts stay missing ------------------------------------------------------------

def test_unknown_tokens_are_nan_not_zero(tmp_path):
    exp = tmp_path / "exp"
    out = import_samples("jsonl", _write_jsonl(tmp_path / "s.jsonl", 2), exp, "m", "d")
    (run,) = discover(exp)
    agg = tmp_path / "agg"
    aggregate_run(samples=run["samples"], verdicts=run["verdicts"], scores=run["scores"],
                  problems=exp / "problems" / "d.parquet", out_samples=agg / "s.parquet",
                  out_problems=agg / "p.parquet", model="m", dataset="d", sampling=out["sampling"])
    data = load_run(agg / "s.parquet", agg / "p.parquet")
    assert np.isnan(data.prompt_tokens).all() and np.isnan(data.completion_tokens).all()
    # the mean_logprob baseline treats an unknown length as before (1 token), not as NaN for every sample
    np.testing.assert_array_equal(data.scores["mean_logprob"], data.scores["logprob"])
    dims = {"ok": True, **MODELS["m"]["flops"]}
    prices = {"input_per_mtok": 1.0, "output_per_mtok": 2.0}
    c = problem_costs(np.array([[10.0, np.nan], [np.nan, np.nan]]), np.array([[20.0, np.nan], [np.nan, np.nan]]),
                      dims, prices)
    full = problem_costs(np.array([[10.0]]), np.array([[20.0]]), dims, prices)
    for key in c:  # a problem's known samples alone give its means; none known gives NaN
        assert c[key][0] == full[key][0] and np.isnan(c[key][1]), key


def test_summary_cost_leaves_out_problems_without_token_counts():
    """One problem without token counts (an imported one, say) must not empty its run's summary cost."""
    curve = {"metric": "coverage", "model": "m", "dataset": "d", "sampling": "s", "selector": "oracle",
             "scheme": "all", "bin": "all", "value": 0.5, "ci_lo": 0.4, "ci_hi": 0.6, "mc_se": 0.0,
             "n_problems": 3, "flops": np.nan, "dollars": np.nan}
    curves = pa.Table.from_pylist([{**curve, "k": 1.0}, {**curve, "k": 4.0, "value": 0.7}], schema=CURVES)
    base = {"model": "m", "dataset": "d", "sampling": "s", "level": "", "n": 4, "n_correct": 1,
            "search_tokens": np.nan, "flops_per_token": 2.0}
    known = [(10.0, 20.0, 100.0, 400.0), (30.0, 40.0, 300.0, 800.0)]
    rows = [{**base, "problem_id": f"p{i}", "prompt_tokens": p, "completion_tokens": c, "prompt_flops": pf,
             "decode_flops": df, "prompt_dollars": pf / 100, "decode_dollars": df / 100}
            for i, (p, c, pf, df) in enumerate(known)]
    rows.append({**base, "problem_id": "p2", **dict.fromkeys(
        ("prompt_tokens", "completion_tokens", "prompt_flops", "decode_flops", "prompt_dollars", "decode_dollars"),
        np.nan)})
    (row,) = summary_table(curves, pa.Table.from_pylist(rows, schema=COSTS), once=True).to_pylist()
    assert row["prompt_tokens"] == 20.0 and row["completion_tokens"] == 30.0
    assert row["flops_per_sample"] == pytest.approx(600.0 + 200.0 / 4)  # decode per sample + prompt / n
    assert row["dollars_per_sample"] == pytest.approx(6.0 + 2.0 / 4)
    none_known = pa.Table.from_pylist(rows[2:], schema=COSTS)
    assert np.isnan(summary_table(curves, none_known, once=True).to_pylist()[0]["flops_per_sample"])


# --- 4 and 6. strict import fields, errors naming file:line and key -----------------------------------

@pytest.mark.parametrize("extra, key", [
    ({"correct": "false"}, "correct"), ({"correct": "0"}, "correct"), ({"correct": 2}, "correct"),
    ({"correct": True, "sample_index": None}, "sample_index"),
    ({"correct": True, "sample_index": "x"}, "sample_index"),
    ({"correct": True, "sample_index": -1}, "sample_index"),
    ({"correct": True, "scores": {"judge": "high"}}, "scores.judge"),
    ({"correct": True, "scores": {"judge": [1]}}, "scores.judge"),
    ({"correct": True, "completion_tokens": "ten"}, "completion_tokens"),
    ({"correct": True, "prompt_tokens": 1.5}, "prompt_tokens"),
    ({"correct": True, "cumulative_logprob": "low"}, "cumulative_logprob"),
    ({"correct": True, "answer": {"x": 1}}, "answer"),
])
def test_bad_fields_name_file_line_and_key(tmp_path, extra, key):
    src = tmp_path / "bad.jsonl"
    good = {"problem_id": "a", "text": "x", "correct": True}
    src.write_text(json.dumps(good) + "\n" + json.dumps({"problem_id": "a", "text": "y", **extra}) + "\n")
    with pytest.raises(DataError, match=f"bad.jsonl:2: `{key}`"):
        import_samples("jsonl", src, tmp_path / "exp", "m", "d")


def test_correct_accepts_booleans_and_0_1_and_numeric_fields(tmp_path):
    src = tmp_path / "ok.jsonl"
    recs = [{"problem_id": "a", "text": "x", "correct": v, "sample_index": i, "answer": 7, "completion_tokens": 3.0,
             "scores": {"judge": "0.5"}} for i, v in enumerate([True, False, 1, 0.0])]
    src.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    import_samples("jsonl", src, tmp_path / "exp", "m", "d")
    v = pq.read_table(next((tmp_path / "exp" / "verdicts").rglob("*.parquet"))).to_pylist()
    assert [r["correct"] for r in v] == [True, False, True, False] and v[0]["extracted_answer"] == "7"
    assert v[0]["answer_key"] == v[2]["answer_key"] != v[1]["answer_key"]  # one answer, two labels: split
    s = pq.read_table(next((tmp_path / "exp" / "samples").rglob("*.parquet"))).to_pylist()
    assert [r["completion_tokens"] for r in s] == [3] * 4
    sc = pq.read_table(next((tmp_path / "exp" / "scores").rglob("*.parquet"))).to_pylist()
    assert [r["score"] for r in sc] == [0.5] * 4


def test_llmonk_is_corrects_must_be_booleans(tmp_path):
    folder = tmp_path / "dump"
    folder.mkdir()
    (folder / "0.yaml").write_text(yaml.safe_dump({"prompt": "q", "samples": ["a", "b"], "gt_answer": "1",
                                                   "is_corrects": [True, "false"]}))
    with pytest.raises(DataError, match=r"0.yaml: `is_corrects\[1\]`"):
        import_samples("llmonk", folder, tmp_path / "exp", "m", "d")


# --- 5. quantile bins: tie classes at the ends go to the end bins; untied data as before --------------

def _old_quantile_bins(pass1: np.ndarray, q: int = 5) -> np.ndarray:
    """The previous implementation (average ranks), for untied data."""
    pass1 = np.asarray(pass1, np.float64)
    _, inv, counts = np.unique(-pass1, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    rank = ((ends - counts + 1 + ends) / 2.0)[inv.ravel()]
    level = np.minimum(np.floor((rank - 0.5) * q / len(pass1)).astype(int), q - 1) + 1
    return np.array([str(v) for v in level], dtype=object)


def test_quantile_bins_put_end_ties_in_end_bins():
    assert quantile_bins(np.array([0.0] * 9 + [0.5])).tolist() == ["5"] * 9 + ["1"]
    solved = quantile_bins(np.array([1.0] * 6 + [0.5, 0.4, 0.3, 0.2]))
    assert solved.tolist() == ["1"] * 6 + ["4", "4", "5", "5"]  # bins 2 and 3 empty
    assert set(quantile_bins(np.zeros(7)).tolist()) == {"5"} and set(quantile_bins(np.ones(7)).tolist()) == {"1"}
    mid = quantile_bins(np.array([0.9, 0.5, 0.5, 0.5, 0.5, 0.1]))  # an inner tie class: its middle rank
    assert mid.tolist() == ["1", "3", "3", "3", "3", "5"]


def test_quantile_bins_of_untied_data_are_unchanged():
    rng = np.random.default_rng(0)
    for N in (1, 2, 3, 4, 5, 7, 10, 11, 50, 333):
        for q in (2, 3, 5, 10):
            pass1 = rng.permutation(N) / N  # distinct values
            assert quantile_bins(pass1, q).tolist() == _old_quantile_bins(pass1, q).tolist(), (N, q)
