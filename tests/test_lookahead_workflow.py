"""Lookahead search on the embedded SmolLM2 with the test PRM, through every stage in real Snakemake.

The test PRM is SmolLM2 with a fixed head (meaningless scores, real code paths). Lookahead runs
beside beam search at the same N (beam search's answers keep the PRM's scores from the search, with no
score job; lookahead's are scored again); the strategy table compares both with best-of-N at FLOPs that count
the PRM, the costs table gives each search's policy and step-scorer FLOPs, the compute ledger charges
lookahead's rollouts and PRM steps, its GPU-hours are the jobs' benchmark seconds x their GPUs, and
Snakemake's HTML report shows the ledger.
"""

from __future__ import annotations

import csv

import pyarrow.parquet as pq
import pytest
from workflow_utils import snakemake, write_config

from ttscale.analysis.cost import model_dims
from ttscale.models.build import build

pytestmark = pytest.mark.engine


def test_lookahead_through_the_workflow(workdir, embedded_model, repo):
    prm = repo / "resources" / "models" / "test-prm-smollm2"
    if not (prm / "config.json").exists():
        build("smollm2_test_prm", prm)
    (workdir / "resources" / "models" / prm.name).symlink_to(prm)  # shared, like the embedded model
    search = {"budgets": [4], "beam_width": 2, "scorer": "prm", "max_steps": 3, "step_tokens": 48,
              "step_delimiter": "\n"}
    config = {
        "experiment": "look", "seed": 1, "samples_per_problem": 4, "block_size": 4,
        "models": {"smollm2": {"path": "resources/models/smollm2-135m-instruct", "build": "smollm2_gguf",
                               "dtype": "float32", "max_model_len": 1024}},
        "datasets": {"arith": {"loader": "reasoning_gym",
                               "args": {"task": "basic_arithmetic", "size": 2, "seed": 3, "max_terms": 2},
                               "prompt": {"template": "{question} Think step by step."}}},
        "sampling": {"default": {"temperature": 0.8, "max_tokens": 32}},
        "scorers": {"prm": {"family": "test-prm-smollm2", "path": f"resources/models/{prm.name}", "dtype": "float32",
                            "max_model_len": 1024}},
        "strategies": {"beam": {"kind": "beam", **search},
                       "look": {"kind": "lookahead", "lookahead": 1, **search}},
        "analysis": {"bootstrap": 20, "fit": {"bootstrap": 5}},
    }
    cfg = write_config(workdir, config)
    snakemake(workdir, cfg)
    exp = workdir / "results" / "look"
    shard = next((exp / "samples").glob("model=smollm2/dataset=arith/sampling=look-*/*.parquet"))
    rows = pq.read_table(shard).to_pylist()
    assert len(rows) == 2 * 4 and {r["strategy"] for r in rows} == {"look"}
    for r in rows:
        assert r["text"] == "".join(r["steps"]) and len(r["step_scores"]) == len(r["steps"])
        assert all(0 <= s <= 1 for s in r["step_scores"])
        assert r["search_scored_tokens"] > 0 and r["search_completion_tokens"] >= r["completion_tokens"]
    strategies = pq.read_table(exp / "analysis" / "strategy_points.parquet").to_pylist()
    assert {"best-of-N", "beam", "look"} <= {p["family"] for p in strategies}
    ledger = pq.read_table(exp / "analysis" / "ledger.parquet").to_pylist()
    steps = {r["sampling"].split("-")[0]: r for r in ledger if r["stage"] == "search_scoring"}
    gen = {r["sampling"].split("-")[0]: r for r in ledger if r["stage"] == "generate"}
    assert set(steps) == {"beam", "look"} and all(r["flops"] > 0 for r in steps.values())
    # rollouts: lookahead generated and scored more than beam search at the same N
    assert gen["look"]["tokens"] > gen["beam"]["tokens"]
    measured = {r["stage"]: r for r in pq.read_table(exp / "analysis" / "measured.parquet").to_pylist()}
    assert measured["generate"]["jobs"] >= 3 and measured["generate"]["wall_seconds"] > 0
    assert (exp / "report" / "tables" / "ledger.md").read_text().count("search_scoring") == 2
    # GPU-hours: every job's benchmark seconds x the GPUs it asked for (1 for SmolLM2 and the test PRM,
    # 0 for the CPU stages), read back from the benchmark files Snakemake wrote
    for stage, gpus in (("generate", 1), ("score", 1), ("verify", 0)):
        files = list((exp / "benchmarks" / stage).rglob("*.tsv"))
        if not files:
            continue
        seconds = [float(list(csv.DictReader(f.open(), delimiter="\t"))[-1]["s"]) for f in files]
        assert measured[stage]["jobs"] == len(files)
        assert measured[stage]["wall_seconds"] == pytest.approx(sum(seconds))
        assert measured[stage]["gpu_hours"] == pytest.approx(sum(seconds) * gpus / 3600)
    # the costs table: each search's policy over every token it spent, its PRM over every prefix it scored
    n_prm = model_dims("prm", {"path": f"resources/models/{prm.name}"}, workdir)["n_params"]
    n_pol = model_dims("smollm2", {"path": "resources/models/smollm2-135m-instruct"}, workdir)["n_params"]
    costs = pq.read_table(exp / "analysis" / "costs.parquet").to_pylist()
    for strategy in ("beam", "look"):
        mine = [c for c in costs if c["sampling"].startswith(f"{strategy}.n4-")]
        shard = next((exp / "samples").glob(f"model=smollm2/dataset=arith/sampling={strategy}-*/*.parquet"))
        scored = {r["problem_id"]: r["search_scored_tokens"] for r in pq.read_table(shard).to_pylist()}
        assert len(mine) == 2 and all(c["search_scored_tokens"] == scored[c["problem_id"]] for c in mine)
        assert all(c["search_scorer_flops"] == pytest.approx(2 * n_prm * c["search_scored_tokens"]) for c in mine)
        assert all(c["search_flops"] == pytest.approx(2 * n_pol * c["search_tokens"]) for c in mine)
        if strategy == "look":  # its last step holds a rollout's value: the PRM scores its answers again
            assert all(dict(c["scorer_flops"]) == {"prm": pytest.approx(2 * n_prm * c["score_tokens"])} for c in mine)
        else:  # beam search's own step scores are the PRM's scores: no second pass, nothing more to charge
            assert all(not c["scorer_flops"] for c in mine)
    # beam search's answers carry the PRM's score of every step: no score job for them, and the aggregate's
    # PRM columns are the search's own (lookahead's answers get a score job)
    scored = {p.parent.name.split("-")[0] for p in (exp / "scores" / "scorer=prm").rglob("*.parquet")}
    assert scored == {"sampling=default", "sampling=look"}
    agg = next((exp / "aggregate").glob("model=smollm2/dataset=arith/sampling=beam-*/samples.parquet"))
    shard = next((exp / "samples").glob("model=smollm2/dataset=arith/sampling=beam-*/*.parquet"))
    steps = {(r["problem_id"], r["sample_index"]): r["step_scores"] for r in pq.read_table(shard).to_pylist()}
    for r in pq.read_table(agg).to_pylist():
        own = steps[(r["problem_id"], r["sample_index"])]
        assert r["score_prm_last"] == pytest.approx(own[-1]) and r["score_prm_min"] == pytest.approx(min(own))
        assert r["score_prm"] == pytest.approx(min(own))  # the scorer's aggregation (the family's default, min)
    table = pq.read_table(exp / "analysis" / "strategies.parquet").to_pylist()
    assert table and all(r["optimal_scorer_flops"] > 0 for r in table if "look" in r["choices"])
    # Snakemake's HTML report carries the ledger tables
    snakemake(workdir, cfg, "--report", "report.html")
    html = (workdir / "report.html").read_text(encoding="utf-8", errors="replace")
    assert "compute ledger" in html and "measured compute" in html
