"""The paper configs (config/paper/*.yaml) validate and plan, offline, into the block grid of ttscale.plan.

Planning only (`snakemake -n` in a scratch copy of the workflow, with the SLURM profile as on a
cluster): the models and datasets are hub ids that are not on this machine, and planning must not
need them (hub datasets declare their problem count with `limit`; the hub libraries are forced
offline here). Every planned shard path is compared with the paths ttscale.plan computes, the
paper's sample counts are checked, and so is what each generate and score job asks the cluster for:
GPUs from its model's tensor x pipeline parallel size (a search job: the larger of policy and PRM),
CPUs and memory in proportion (ttscale.resources). Job counts and the planning time are printed,
not asserted (benchmarks/planning.py measures the time).
"""

from __future__ import annotations

import copy
import re
import time
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from workflow_utils import snakemake

from ttscale import keys as tkeys
from ttscale import plan as tplan
from ttscale import resources as tres
from ttscale.analysis.tables import RUN_TABLES
from ttscale.config import check, experiment_dir, validate

PAPERS = ["monkeys", "snell", "liu"]
_RULE = re.compile(r"^\s*(?:local)?(?:rule|checkpoint) (\w+):\s*$")
_OUTPUT = re.compile(r"^\s+output: (.*)$")
_STAT = re.compile(r"^(\w+)\s+(\d+)$")
_FIELDS = re.compile(r"^\s+(wildcards|resources): (.*)$")


def dry_run(workdir: Path, configfile: Path) -> tuple[dict[str, set[str]], dict[str, int], list[dict]]:
    """One `snakemake -n` with the SLURM profile: rule -> planned outputs, rule -> jobs (Snakemake's job
    stats table), and each job's rule, wildcards and resources as printed."""
    out = snakemake(workdir, configfile, "-n", profile="profiles/slurm")
    outputs: dict[str, set[str]] = defaultdict(set)
    counts: dict[str, int] = {}
    jobs: list[dict] = []
    rule = job = None
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if m := _RULE.match(line):
            rule = m.group(1)
            job = {"rule": rule, "wildcards": {}, "resources": {}}
            jobs.append(job)
        elif job and (m := _FIELDS.match(line)):
            job[m.group(1)] = dict(kv.split("=", 1) for kv in m.group(2).split(", ") if "=" in kv)
        if rule and (m := _OUTPUT.match(line)):
            outputs[rule].update(m.group(1).split(", "))
            rule = None
        elif line.startswith("Job stats:") and not counts:
            for row in lines[i + 3:]:
                if not (m := _STAT.match(row.strip())):
                    break
                counts[m.group(1)] = int(m.group(2))
    return dict(outputs), counts, jobs


def load(name: str, root: Path) -> dict:
    path = REPO / "config" / "paper" / f"{name}.yaml"
    config = validate(yaml.safe_load(path.read_text()), str(path))
    check(config, str(path), root)
    return config


def expected_outputs(config: dict, runs: list[tplan.Run]) -> dict[str, set[str]]:
    """rule -> every output path the workflow must plan for a config with no results yet."""
    exp = experiment_dir(config)
    out = {
        "generate": {p for r in runs for p in tplan.shards(config, "samples", r)},
        "verify": {p for r in runs for p in tplan.shards(config, "verdicts", r)},
        "problems": {str(exp / "problems" / f"{d}.parquet") for d in config["datasets"]},
        "audit": {str(exp / "audit" / f"{d}.parquet") for d in config["datasets"]},
        # a run's analyze job writes its aggregate tables too (with its judgement and analysis tables)
        "analyze": {str(exp / d / r.partition() / f) for r in runs
                    for d, f in (("aggregate", "samples.parquet"), ("aggregate", "problems.parquet"),
                                 ("analysis", "judgement_samples.parquet"), ("analysis", "judgement_summary.parquet"),
                                 *(("analysis", f"{t}.parquet") for t in RUN_TABLES))},
    }
    if config["scorers"]:
        out["score"] = {p for s in config["scorers"] for r in tplan.scored_runs(config, runs, s)
                        for p in tplan.shards(config, "scores", r, s)}
    return out


def paper_facts(name: str, config: dict, runs: list[tplan.Run]) -> None:
    """What each config must keep to reproduce its paper (edits that break these are caught)."""
    by_dataset = {r.dataset: r for r in runs if r.strategy is None}
    if name == "monkeys":
        for r in runs:  # 10,000 samples per problem, DeepSeek-Coder-V2's 250 (per_model; SWE-bench Lite's own)
            assert r.samples_per_problem == (250 if r.model.startswith("deepseek_coder_v2") else 10_000), r
        assert {r.dataset for r in runs if r.model == "deepseek_coder_v2"} == {"code_contests"}
        assert by_dataset["gsm8k"].n_problems == by_dataset["math"].n_problems == 128
        assert by_dataset["code_contests"].n_problems == 165
        assert {config["sampling"][r.preset]["temperature"] for r in runs} == {0.6}
        scored = {(r.model, r.dataset) for r in tplan.scored_runs(config, runs, "armorm")}
        assert scored == {(m, d) for m in ("llama3_8b_it", "llama3_70b_it") for d in ("gsm8k", "math")}
        lite = by_dataset["swebench_lite"]  # the paper's headline: SWE-bench Lite, 250 samples per issue
        assert (lite.n_problems, lite.samples_per_problem) == (300, 250)
        assert config["datasets"]["swebench_lite"]["task"] == "repo"
        assert sum(r.n_samples for r in runs) == 41_646_250
        assert not [r for r in runs if r.strategy]
    elif name == "snell":
        assert by_dataset["math500"].n_problems == 500
        kinds = {config["strategies"][r.strategy]["kind"] for r in runs if r.strategy}
        assert kinds == {"beam", "revisions", "lookahead"}
        assert {config["strategies"][r.strategy].get("lookahead") for r in runs
                if r.strategy and config["strategies"][r.strategy]["kind"] == "lookahead"} == {3}
        assert max(max(r.budgets) for r in runs if r.strategy) == 256
        assert {r.model for r in runs if r.strategy} == {"llama31_8b_it"}
        assert config["analysis"]["bins"]["quantiles"] == 5
        for r in runs:  # beam search's answers keep its PRM's step scores; lookahead's are scored again
            kind = config["strategies"][r.strategy]["kind"] if r.strategy else None
            assert (tplan.search_scorer(config, r) is not None) == (kind == "beam")
            assert (r in tplan.scored_runs(config, runs, "prm")) == (kind != "beam")
            assert r in tplan.scored_runs(config, runs, "orm")  # the outcome verifier scores every run
    elif name == "liu":
        assert {r.dataset: r.n_problems for r in runs} == {"math500": 500, "aime24": 30}
        assert len(config["models"]) == 10 and len(config["scorers"]) == 4
        searches = {(r.model, r.dataset, config["strategies"][r.strategy]["kind"],
                     config["strategies"][r.strategy]["scorer"], b) for r in runs if r.strategy for b in r.budgets}
        assert len(searches) == 10 * 2 * 2 * 4 * 4  # policies x datasets x {beam, dvts} x PRMs x budgets
        # one run (one job per problem block) spans a search's budgets
        assert len([r for r in runs if r.strategy]) == 10 * 2 * 2 * 4
        assert {b for *_, b in searches} == {4, 16, 64, 256}
        for r in runs:  # a search is scored by the PRM that guided it; best-of-N by every PRM
            scorers = {s for s in config["scorers"] if tplan.scores_run(config["scorers"][s], r)}
            assert scorers == ({config["strategies"][r.strategy]["scorer"]} if r.strategy else set(config["scorers"]))
            # ... with the scores it gave each step while searching: no score job for the searches
            guide = tplan.search_scorer(config, r)
            assert guide == ({"name": config["strategies"][r.strategy]["scorer"], "aggregation": "last"}
                             if r.strategy else None)
        assert all(r.strategy is None for s in config["scorers"] for r in tplan.scored_runs(config, runs, s))
        assert config["analysis"]["bins"]["absolute_edges"] == [0.1, 0.5]
        # Qwen policies get Qwen's own system prompt (their own sampling keys); Llama ones the dataset's
        plain = copy.deepcopy(config)
        for ds in plain["datasets"].values():
            ds["per_model"] = {}
        for r in runs:
            if r.strategy is None:
                system = tkeys.sampling_identity(config, r.model, r.dataset, r.preset)["dataset"]["prompt"]["system"]
                qwen = r.model.startswith("qwen")
                assert ("boxed{}" in system and "reason step by step" in system) == qwen, r
                assert (r.key == tkeys.sampling_key(plain, r.model, r.dataset, r.preset)) != qwen, r


def check_requests(name: str, config: dict, runs: list[tplan.Run], jobs: list[dict], counts: dict[str, int]) -> None:
    """Every generate and score job of the dry run asks for its model's GPUs (and CPUs and memory in
    proportion) on the GPU partition; the paper's large models ask for their tensor-parallel size."""
    strategy_of = {(r.model, r.dataset, r.key): r.strategy for r in runs}
    gpus_by_model: dict[str, set[int]] = defaultdict(set)
    seen = defaultdict(int)
    for job in jobs:
        if job["rule"] not in ("generate", "score"):
            continue
        w, res = job["wildcards"], job["resources"]
        if job["rule"] == "generate":
            want = tres.generate_gpus(config, w["model"], strategy_of[(w["model"], w["dataset"], w["sampling"])])
            gpus_by_model[w["model"]].add(int(res["gpu"]))
        else:
            want = tres.scorer_gpus(config, w["scorer"])
        seen[job["rule"]] += 1
        assert int(res["gpu"]) == want, (name, job)
        assert int(res["cpus_per_task"]) == tres.host_cpus(want), (name, job)
        assert int(res["mem_mb"]) == tres.host_mem_mb(want), (name, job)
        assert res["slurm_partition"] == "gpu" and res["nodes"] == "1", (name, job)
    assert seen["generate"] == counts["generate"] and seen["score"] == counts.get("score", 0)
    if name == "liu":  # Qwen2.5-32B runs with tensor_parallel_size 2, 72B with 4, the rest on one GPU
        assert gpus_by_model.pop("qwen25_32b_it") == {2} and gpus_by_model.pop("qwen25_72b_it") == {4}
        assert set().union(*gpus_by_model.values()) == {1}
    elif name == "monkeys":  # Llama-3-70B on 4 GPUs, DeepSeek-Coder-V2 (236B) on a node of 8
        assert gpus_by_model.pop("llama3_70b_it") == {4}
        assert gpus_by_model.pop("deepseek_coder_v2") == gpus_by_model.pop("deepseek_coder_v2_long") == {8}
        assert set().union(*gpus_by_model.values()) == {1}
    elif name == "snell":  # the 8B policy (and its searches with the 8B PRM) on one GPU, the 70B on 4
        assert gpus_by_model == {"llama31_8b_it": {1}, "llama31_70b_it": {4}}


@pytest.mark.parametrize("name", PAPERS)
def test_paper_config_plans_its_block_grid_offline(name, workdir, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    config = load(name, workdir)
    runs = tplan.runs(config, workdir)
    paper_facts(name, config, runs)
    blocks = sum(len(r.blocks) for r in runs)

    start = time.time()
    outputs, counts, jobs = dry_run(workdir, workdir / "config" / "paper" / f"{name}.yaml")
    seconds = time.time() - start

    for rule, paths in expected_outputs(config, runs).items():
        got = outputs.get(rule, set())
        assert got == paths, (f"{name}: rule {rule} plans {len(got)} outputs, the block grid has {len(paths)}; "
                              f"missing e.g. {sorted(paths - got)[:2]}, extra e.g. {sorted(got - paths)[:2]}")
    # One job per block of each per-block stage, one per run after that, one per experiment at the end.
    assert counts["generate"] == counts["verify"] == blocks
    assert counts.get("score", 0) == sum(len(r.blocks) for s in config["scorers"]
                                         for r in tplan.scored_runs(config, runs, s))
    assert counts["analyze"] == len(runs) and "aggregate" not in counts and "judgement" not in counts
    assert counts["problems"] == counts["audit"] == len(config["datasets"])
    assert counts["compare"] == counts["report"] == counts["ledger"] == counts["all"] == 1
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")
    check_requests(name, config, runs, jobs, counts)

    with capsys.disabled():
        detail = ", ".join(f"{k}={v}" for k, v in counts.items() if k not in ("all", "total"))
        print(f"\n{name}: {counts['total']} jobs ({detail}) for {len(runs)} runs, {blocks} sample blocks, "
              f"{sum(r.n_samples for r in runs):,} samples; planned in {seconds:.1f}s")
