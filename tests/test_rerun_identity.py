"""What a config edit makes Snakemake redo: dry runs (`snakemake -n`) after a stub run.

No engine and no job runs. The fixture plans a small config whose models are hub ids (planning does
not need them), writes a placeholder for every planned output and marks every job done with
`snakemake --touch --forceall`, which records each job's params and inputs as a real run would.
Each test then edits the config, or a file a dataset reads, and checks which jobs a dry run plans:
an edit that changes results reruns exactly the jobs whose results it changes, and an edit that
changes nothing (key order, defaults written out, speed or sandbox settings) plans nothing.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
from pathlib import Path

import pytest
from workflow_utils import SNAKEMAKE, log_jobs, planned, snakemake, write_config

from ttscale.config import validate
from ttscale.plan import runs

BASE = {
    "experiment": "rid",
    "seed": 3,
    "samples_per_problem": 4,
    "block_size": 2,
    "problems_per_block": 2,
    "models": {
        "m": {"path": "org/policy", "dtype": "float32", "max_model_len": 1024},
        # only a judge: the datasets sample `m` alone
        "jm": {"path": "org/judge", "dtype": "bfloat16", "max_model_len": 2048},
    },
    "datasets": {
        "arith": {"loader": "reasoning_gym", "args": {"task": "basic_arithmetic", "size": 2, "seed": 5},
                  "models": ["m"], "prompt": {"template": "{question} Answer.", "few_shot_file": "fs.jsonl"}},
        "local": {"loader": "jsonl", "args": {"path": "data.jsonl", "columns": {"problem_id": "id"}},
                  "ids": ["a", "b", "c"], "models": ["m"]},
    },
    "sampling": {"default": {"temperature": 0.8, "max_tokens": 24}},
    "scorers": {"judge": {"kind": "generative", "model": "jm"}, "logprob": {"kind": "logprob"}},
}
FEW_SHOT = '{"question": "Calculate 1 + 1.", "answer": "The answer is 2."}\n'
DATA = "".join(f'{{"id": "{i}", "question": "{n} + {n}", "answer": "{2 * n}"}}\n' for n, i in enumerate("abcde"))


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """A workflow copy whose every job of BASE is recorded as done (placeholders, no real run)."""
    from conftest import make_workdir

    wd = make_workdir(tmp_path_factory.mktemp("rid"))
    (wd / "fs.jsonl").write_text(FEW_SHOT)
    (wd / "data.jsonl").write_text(DATA)
    cfg = write_config(wd, BASE)
    for outputs in planned(wd, cfg).values():
        for out in outputs:
            (wd / out).parent.mkdir(parents=True, exist_ok=True)
            (wd / out).write_text("placeholder")
    snakemake(wd, cfg, "--touch", "--forceall")
    return wd, cfg


def variant(wd: Path, mutate) -> Path:
    c = copy.deepcopy(BASE)
    mutate(c)
    return write_config(wd, c, "variant.yaml")


def names(paths: list[str]) -> list[str]:
    """`dataset/block` of per-block outputs (or the file name), sorted."""
    out = []
    for p in paths:
        m = re.search(r"dataset=(\w+)/sampling=[^/]+/([^/]+)\.parquet$", p)
        out.append(f"{m.group(1)}/{m.group(2)}" if m else Path(p).name)
    return sorted(out)


def keys(wd: Path, config: dict) -> set[str]:
    return {r.key for r in runs(validate(copy.deepcopy(config)), wd)}


ARITH = ["arith/p00000-00002_s000000-000002", "arith/p00000-00002_s000002-000004"]
LOCAL = ["local/p00000-00002_s000000-000002", "local/p00000-00002_s000002-000004",
         "local/p00002-00003_s000000-000002", "local/p00002-00003_s000002-000004"]


def test_unchanged_config_plans_nothing(done):
    wd, cfg = done
    assert planned(wd, cfg) == {}


def _reversed(obj):
    if isinstance(obj, dict):
        return {k: _reversed(obj[k]) for k in reversed(list(obj))}
    return obj


def test_key_order_and_written_out_defaults_plan_nothing(done):
    wd, _ = done

    def edit(c):
        r = _reversed(c)
        c.clear()
        c.update(r)
        c["verify"] = {"limits": {"wall_s": 10}, "max_code_bytes": 1_000_000, "by_task": {"math": "math"}}
        c["analysis"] = {"bootstrap": 1000, "selectors": ["*"]}
        c["report"] = {"digits": 4, "dpi": 150}
        c["scorers"]["logprob"]["normalize"] = False
        c["datasets"]["arith"]["task"] = "math"  # the loader's own task for basic_arithmetic
        c["datasets"]["local"]["task"] = "other"

    assert planned(wd, variant(wd, edit)) == {}


def test_speed_and_sandbox_settings_plan_nothing(done):
    wd, _ = done

    def edit(c):
        c["verify"] = {"workers": 1, "backend": "bubblewrap", "image": "elsewhere:1", "sif": "x.sif"}
        c["models"]["m"]["engine"] = {"max_num_seqs": 8}
        c["models"]["jm"]["engine"] = {"gpu_memory_utilization": 0.3}
        c["scorers"]["judge"]["engine"] = {"max_num_seqs": 4}

    assert planned(wd, variant(wd, edit)) == {}


def test_verdict_settings_reverify_and_audit_repeats_reaudit(done):
    wd, _ = done
    jobs = planned(wd, variant(wd, lambda c: c.update(verify={"limits": {"wall_s": 5}})))
    assert names(jobs["verify"]) == sorted(ARITH + LOCAL)
    assert names(jobs["audit"]) == ["arith.parquet", "local.parquet"]
    assert not {"generate", "score", "score_free", "problems"} & set(jobs)
    jobs = planned(wd, variant(wd, lambda c: c.update(verify={"audit_repeats": 5})))
    assert names(jobs["audit"]) == ["arith.parquet", "local.parquet"]
    assert not {"verify", "generate", "score", "problems"} & set(jobs)
    # limits scaled from the reference solutions: every verdict again (from the audit it already has)
    jobs = planned(wd, variant(wd, lambda c: c.update(verify={"reference_limits": {"factor": 4}})))
    assert names(jobs["verify"]) == sorted(ARITH + LOCAL)
    assert not {"audit", "generate", "score", "problems"} & set(jobs)


def test_changed_task_reverifies_that_dataset(done):
    """datasets.<d>.task chooses the verifier: the problem table and the verdicts follow it."""
    wd, _ = done
    jobs = planned(wd, variant(wd, lambda c: c["datasets"]["arith"].update(task="other")))
    assert names(jobs["problems"]) == ["arith.parquet"]
    assert names(jobs["verify"]) == ARITH
    assert not {"generate", "score", "score_free"} & set(jobs)


def _edit(path: Path, text: str):
    """Write `text` to path; returns a function that restores the old text and times."""
    old, st = path.read_text(), path.stat()

    def restore():
        path.write_text(old)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    path.write_text(text)
    return restore


def test_edited_dataset_files_rebuild_the_problem_table(done):
    wd, cfg = done
    old_keys = keys(wd, BASE)
    restore = _edit(wd / "fs.jsonl", FEW_SHOT.replace("1 + 1", "2 + 2").replace("is 2", "is 4"))
    try:
        jobs = planned(wd, cfg)
        assert names(jobs["problems"]) == ["arith.parquet"]  # generation reads the new few-shot turns
        assert names(jobs["generate"]) == ARITH and not any(k in p for p in jobs["generate"] for k in old_keys)
    finally:
        restore()
    restore = _edit(wd / "data.jsonl", DATA.replace('"answer": "0"', '"answer": "zero"'))
    try:
        jobs = planned(wd, cfg)
        assert names(jobs["problems"]) == ["local.parquet"]
        assert "generate" not in jobs  # the table is rebuilt; the data file is not part of the key
    finally:
        restore()
    assert planned(wd, cfg) == {}


def test_replaced_or_reordered_ids_regenerate_only_their_blocks(done):
    wd, _ = done
    jobs = planned(wd, variant(wd, lambda c: c["datasets"]["local"].update(ids=["a", "b", "d"])))
    assert names(jobs["problems"]) == ["local.parquet"]
    assert names(jobs["generate"]) == LOCAL[2:]
    assert names(jobs["verify"]) == LOCAL[2:]
    assert names(jobs["score"]) == names(jobs["score_free"]) == LOCAL[2:]
    jobs = planned(wd, variant(wd, lambda c: c["datasets"]["local"].update(ids=["b", "a", "c"])))
    assert names(jobs["generate"]) == LOCAL[:2]


def test_more_samples_problems_datasets_or_models_plan_only_new_blocks(done):
    wd, _ = done
    jobs = planned(wd, variant(wd, lambda c: c.update(samples_per_problem=6)))
    assert names(jobs["generate"]) == ["arith/p00000-00002_s000004-000006", "local/p00000-00002_s000004-000006",
                                       "local/p00002-00003_s000004-000006"]
    assert not {"problems", "audit"} & set(jobs)
    jobs = planned(wd, variant(wd, lambda c: c["datasets"]["local"].update(ids=["a", "b", "c", "d"])))
    assert names(jobs["generate"]) == ["local/p00002-00004_s000000-000002", "local/p00002-00004_s000002-000004"]
    jobs = planned(wd, variant(wd, lambda c: c["datasets"]["arith"]["args"].update(size=3)))
    assert names(jobs["generate"]) == ["arith/p00002-00003_s000000-000002", "arith/p00002-00003_s000002-000004"]
    assert names(jobs["problems"]) == ["arith.parquet"]
    new = {"loader": "reasoning_gym", "args": {"task": "chain_sum", "size": 2}, "models": ["m"]}
    jobs = planned(wd, variant(wd, lambda c: c["datasets"].update(chains=new)))
    assert names(jobs["generate"]) == ["chains/p00000-00002_s000000-000002", "chains/p00000-00002_s000002-000004"]
    assert names(jobs["problems"]) == ["chains.parquet"]

    def twin(c):
        c["models"]["twin"] = dict(BASE["models"]["m"])
        for ds in c["datasets"].values():
            ds["models"] = ["m", "twin"]

    jobs = planned(wd, variant(wd, twin))
    assert len(jobs["generate"]) == 6 and all("model=twin" in p for p in jobs["generate"])
    assert "problems" not in jobs


def test_max_model_len_is_part_of_the_model_identity(done):
    wd, _ = done

    def policy(c):
        c["models"]["m"]["max_model_len"] = 512

    jobs = planned(wd, variant(wd, policy))
    new_keys = keys(wd, {**BASE, "models": {**BASE["models"], "m": {**BASE["models"]["m"], "max_model_len": 512}}})
    assert not new_keys & keys(wd, BASE)
    assert names(jobs["generate"]) == sorted(ARITH + LOCAL)
    # the judge inherits its model's context: changing it rescores with the judge only
    jobs = planned(wd, variant(wd, lambda c: c["models"]["jm"].update(max_model_len=4096)))
    assert names(jobs["score"]) == sorted(ARITH + LOCAL) and all("scorer=judge" in p for p in jobs["score"])
    assert not {"generate", "verify", "score_free"} & set(jobs)
    # the same context written on the scorer itself changes nothing
    assert planned(wd, variant(wd, lambda c: c["scorers"]["judge"].update(max_model_len=2048))) == {}


def test_analysis_reruns_for_prices_not_engine_settings(done):
    wd, _ = done
    jobs = planned(wd, variant(wd, lambda c: c["models"]["m"].update(price={"output_per_mtok": 1.0})))
    # each run's analyze job (which rewrites its aggregate and judgement tables too) and what reads its tables
    assert set(jobs) == {"analyze", "compare", "report", "ledger", "judgement_report"}
    assert len(jobs["analyze"]) == 2 * (6 + 2 + 2)  # two runs: 6 analysis, 2 aggregate and 2 judgement tables each


@pytest.mark.parametrize("profile", ["local", "slurm"])
def test_model_free_scorers_ask_for_no_gpu(done, profile):
    wd, cfg = done
    cmd = [SNAKEMAKE, "--profile", f"profiles/{profile}", "--configfile", str(cfg), "-n", "--forceall"]
    proc = subprocess.run(cmd, cwd=wd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    scoring = [j for j in log_jobs(proc.stdout + proc.stderr) if "scorer=" in j.get("wildcards", "")]
    judge = [j for j in scoring if "scorer=judge" in j["wildcards"]]
    free = [j for j in scoring if "scorer=logprob" in j["wildcards"]]
    assert len(judge) == len(free) == 6
    if profile == "local":
        assert all("engine=1" in j["resources"] for j in judge)
        assert not any("engine=" in j["resources"] for j in free)
    else:
        # the GPU count comes from the scorer's engine (ttscale.resources), the partition from the profile
        assert all(re.search(r"\bgpu=1\b", j["resources"]) and "slurm_partition=gpu" in j["resources"] for j in judge)
        assert not any(re.search(r"\bgpu=[1-9]", j["resources"]) or "slurm_partition=gpu" in j["resources"]
                       for j in free)
