"""GPU requests per model on the real one-node SLURM cluster (tests/slurm/cluster.sh declares four
count-only GPUs): a model with `tensor_parallel_size: 2` makes an sbatch request for 2 GPUs, a
search job asks for what its policy and its step scorer need, a plain model for 1. The requests are read
back from slurmctld (`scontrol show job`); the jobs themselves are cancelled once submitted (vLLM
on CPU cannot run tensor parallel), so this checks the request, not a run."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import time

import pytest
from conftest import make_workdir
from test_slurm import cluster, run_slurm  # noqa: F401  (the module-scoped cluster fixture)
from workflow_utils import write_config

from ttscale import resources as tres

pytestmark = pytest.mark.slurm

MODEL = {"path": "resources/models/smollm2-135m-instruct", "build": "smollm2_gguf", "dtype": "float32",
         "max_model_len": 1024}
CONFIG = {
    "experiment": "slurmgpus", "seed": 3, "samples_per_problem": 2, "block_size": 2,
    "models": {"tp2": {**MODEL, "engine": {"tensor_parallel_size": 2}}, "one": MODEL},
    "datasets": {"arith": {"loader": "reasoning_gym", "args": {"task": "basic_arithmetic", "size": 1, "seed": 5}}},
    "sampling": {"default": {"temperature": 0.8, "max_tokens": 16}},
    # the step scorer (a judge on the same model) spans 2 GPUs; it scores only the search it guides
    "scorers": {"prm": {"kind": "generative", "model": "one", "engine": {"tensor_parallel_size": 2},
                        "sampling": False}},
    "strategies": {"beam": {"kind": "beam", "budgets": [2], "beam_width": 2, "scorer": "prm", "models": ["one"]}},
}


def generate_requests(env: dict) -> dict[str, tuple[int, str, str]]:
    """Target (rule and wildcards, from the job's batch script) -> (GPUs, CPUs per task, nodes) asked
    for, of every generate job slurmctld knows."""
    out = subprocess.run(["scontrol", "-o", "show", "job"], env=env, capture_output=True, text=True).stdout
    jobs = {}
    for line in out.splitlines():
        if "rule_generate" not in line:
            continue
        job_id = re.search(r"JobId=(\d+)", line).group(1)
        script = subprocess.run(["scontrol", "write", "batch_script", job_id, "-"], env=env, capture_output=True,
                                text=True).stdout
        target = re.search(r"--target-jobs '([^']+)'", script)
        gpus = re.search(r"TresPerJob=\S*gpu:(\d+)", line)  # sbatch --gpus=N: "gres:gpu:N" (or gres/gpu:N)
        cpus = re.search(r"CPUs/Task=(\d+)", line)
        nodes = re.search(r"NumNodes=(\S+)", line)
        if target:
            jobs[target.group(1)] = (int(gpus.group(1)) if gpus else 0, cpus.group(1) if cpus else "?",
                                     nodes.group(1) if nodes else "?")
    return jobs


def test_gpu_requests_follow_the_models(cluster, tmp_path):  # noqa: F811
    _, env = cluster
    wd = make_workdir(tmp_path / "gpus")
    cfg = write_config(wd, CONFIG)
    proc = run_slurm(wd, cfg, env, "--until", "generate", "--retries", "0", background=True)
    try:
        deadline, jobs = time.monotonic() + 600, {}
        while time.monotonic() < deadline and len(jobs) < 3:
            time.sleep(3)
            jobs = generate_requests(env)
            if proc.poll() is not None:
                break
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)  # Snakemake cancels its SLURM jobs
        try:
            log = proc.communicate(timeout=120)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            log = proc.communicate()[0]
    by_model = {}
    for target, (gpus, cpus, nodes) in jobs.items():
        model = re.search(r"model=(\w+)", target).group(1)
        kind = "search" if "sampling=beam-" in target else "sampling"
        by_model[(model, kind)] = gpus
        assert nodes in ("1", "1-1"), f"{target}: {nodes} nodes\n{log[-3000:]}"  # one node, one task
        assert int(cpus) == tres.host_cpus(gpus), (target, cpus)
    assert by_model == {("tp2", "sampling"): 2, ("one", "sampling"): 1, ("one", "search"): 2}, \
        f"{jobs}\n{log[-4000:]}"
