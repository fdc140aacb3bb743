"""The compute ledger on a constructed run: FLOPs from the tokens each model processed, sandbox
seconds from the verdicts, GPU-hours from the jobs' benchmark files (ttscale.ledger)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ttscale import ledger
from ttscale.config import validate
from ttscale.errors import DataError


def fake_model(folder: Path, shape: list[int]) -> int:
    """A model folder whose safetensors header declares one tensor of `shape` (no weights needed)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"num_hidden_layers": 2, "hidden_size": 8}))
    header = json.dumps({"w": {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}}).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    return shape[0] * shape[1]


BENCH_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def bench(path: Path, seconds: float, cpu: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BENCH_HEADER + f"{seconds}\t0:00:01\t1\t1\t1\t1\t0\t0\t50\t{cpu}\n")


@pytest.fixture
def run(tmp_path):
    n_policy = fake_model(tmp_path / "policy", [1000, 30])
    n_rm = fake_model(tmp_path / "rm", [500, 10])
    config = validate({
        "models": {"pol": {"path": str(tmp_path / "policy"), "engine": {"tensor_parallel_size": 2}}},
        "datasets": {"d": {"loader": "human_eval", "limit": 2}},
        "sampling": {"s": {}},
        "scorers": {"rm": {"kind": "outcome", "path": str(tmp_path / "rm")}, "lp": {"kind": "logprob"}},
        "analysis": {"cost": {"prompt_once": True}},
    })
    samples = pa.table({"problem_id": ["a", "a", "b"], "prompt_tokens": [10, 10, 20],
                        "completion_tokens": [5, 7, 3]})
    pq.write_table(samples, tmp_path / "samples.parquet")
    pq.write_table(pa.table({"duration_s": [0.5, 1.25, 0.25]}), tmp_path / "verdicts.parquet")
    runs = [{"model": "pol", "dataset": "d", "sampling": "s-0123abcd", "strategy": None, "strategy_scorer": None,
             "samples": str(tmp_path / "samples.parquet"), "sample_shards": [],
             "verdict_shards": [str(tmp_path / "verdicts.parquet")], "scorers": ["rm"]}]
    b = tmp_path / "benchmarks"
    part = "model=pol/dataset=d/sampling=s-0123abcd"
    bench(b / "generate" / part / "p00000-00002_s000000-000002.tsv", 360.0, 300.0)
    bench(b / "generate" / part / "p00000-00002_s000002-000004.tsv", 180.0, 100.0)
    bench(b / "score" / "rm" / part / "p00000-00002_s000000-000002.tsv", 720.0, 10.0)
    bench(b / "verify" / part / "p00000-00002_s000000-000002.tsv", 30.0, 20.0)
    return config, runs, b, n_policy, n_rm


def test_ledger_flops_and_gpu_hours(run, tmp_path):
    config, runs, b, n_policy, n_rm = run
    outputs = {k: str(tmp_path / "out" / f"{k}.{'parquet' if '_' not in k else k.split('_')[1]}")
               for k in ("ledger", "measured", "ledger_md", "ledger_csv", "measured_md", "measured_csv")}
    counts = ledger.write_ledger(config, runs, str(b), outputs, root=tmp_path)
    rows = {r["stage"]: r for r in pq.read_table(outputs["ledger"]).to_pylist()}
    assert counts == {"ledger": 3, "measured": 3}
    # the reward model read every sample's prompt and response: 2 x parameters x tokens
    scored = (10 + 5) + (10 + 7) + (20 + 3)
    assert rows["score"]["component"] == "rm" and rows["score"]["tokens"] == scored
    assert rows["score"]["flops"] == pytest.approx(2 * n_rm * scored)
    # sampling: the prompt once per problem (prefix caching), every completion
    spent = 10 + 20 + 5 + 7 + 3
    assert rows["generate"]["flops"] == pytest.approx(2 * n_policy * spent)
    assert rows["verify"]["sandbox_seconds"] == pytest.approx(2.0) and rows["verify"]["flops"] == 0
    assert "lp" not in {r["component"] for r in rows.values()}  # a log-probability scorer calls no model
    measured = {r["stage"]: r for r in pq.read_table(outputs["measured"]).to_pylist()}
    # GPU-hours: the jobs' benchmark seconds x the GPUs each asked for (the policy spans 2 GPUs)
    assert measured["generate"]["gpu_hours"] == pytest.approx((360 + 180) * 2 / 3600)
    assert measured["score"]["gpu_hours"] == pytest.approx(720 * 1 / 3600)
    assert measured["verify"]["gpu_hours"] == 0 and measured["verify"]["cpu_seconds"] == 20
    assert measured["generate"]["jobs"] == 2 and measured["generate"]["wall_seconds"] == 540
    assert measured["score"]["estimated_flops"] == pytest.approx(rows["score"]["flops"])
    md = Path(outputs["measured_md"]).read_text()
    assert "GPU-hours" in md and "generate" in md and Path(outputs["ledger_csv"]).read_text().startswith("model,")


def test_search_runs_charge_rollouts_and_prm_steps(run, tmp_path):
    _, runs, _, n_policy, n_rm = run
    shard = tmp_path / "search.parquet"
    pq.write_table(pa.table({"problem_id": ["a", "a", "b"], "search_prompt_tokens": [100, 100, 50],
                             "search_completion_tokens": [40, 40, 20], "search_scored_tokens": [300, 300, 90]}),
                   shard)
    search = {**runs[0], "sampling": "la.n2-0123abcd", "strategy": "la", "strategy_scorer": "rm",
              "sample_shards": [str(shard)], "scorers": []}
    rows = {r["stage"]: r for r in ledger.estimate([search], {"pol": n_policy, "rm": n_rm}, True).to_pylist()}
    assert rows["generate"]["tokens"] == 100 + 40 + 50 + 20  # per problem, counted once per problem
    assert rows["search_scoring"]["flops"] == pytest.approx(2 * n_rm * (300 + 90))
    unknown = ledger.estimate([search], {"pol": None, "rm": n_rm}, True).to_pylist()
    assert unknown[0]["flops"] != unknown[0]["flops"]  # NaN: a hub model whose size is unknown


def test_a_broken_benchmark_file_is_named(tmp_path):
    bad = tmp_path / "generate" / "x.tsv"
    bad.parent.mkdir(parents=True)
    bad.write_text("nothing here\n1\n")
    with pytest.raises(DataError, match="x.tsv: not a Snakemake benchmark file"):
        ledger.read_benchmark(bad)
