"""The workflow on a real one-node SLURM cluster (Debian's slurm-wlm), through profiles/slurm.

tests/slurm/cluster.sh starts munged, slurmctld and slurmd on localhost (a `cpu` and a `gpu`
partition) and stops them by PID afterwards. The profile users get is the one run here; only what
this test cluster needs is layered on the command line (no accounting database, so job status
comes from squeue; short status intervals). The checks: every job went through SLURM to the
partition the profile names, the results equal a local run, a job killed mid-block leaves no
shard and the rerun finishes it, and a node failure during verification loses no verdicts.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import REPO, make_workdir
from workflow_utils import SNAKEMAKE, write_config

from ttscale.blocks import Block

pytestmark = pytest.mark.slurm

# What only the test cluster needs, layered over profiles/slurm.
TEST_LAYER = ["--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
              "--latency-wait", "5", "--slurm-keep-successful-logs"]

TINY = {
    "experiment": "slurmtiny",
    "seed": 3,
    "samples_per_problem": 4,
    "block_size": 2,
    "models": {"smollm2": {"path": "resources/models/smollm2-135m-instruct", "build": "smollm2_gguf",
                           "dtype": "float32", "max_model_len": 1024}},
    "datasets": {"arith": {"loader": "reasoning_gym", "args": {"task": "basic_arithmetic", "size": 2, "seed": 5},
                           "prompt": {"template": "{question} Answer with a number."}}},
    "sampling": {"default": {"temperature": 0.8, "top_p": 0.95, "max_tokens": 24}},
    "scorers": {"logprob": {"kind": "logprob"}},
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, embedded_model):
    state = tmp_path_factory.mktemp("slurm")
    start = subprocess.run(["bash", str(REPO / "tests/slurm/cluster.sh"), "start", str(state)],
                           capture_output=True, text=True, timeout=600)
    if start.returncode != 0:
        subprocess.run(["bash", str(REPO / "tests/slurm/cluster.sh"), "stop", str(state)], timeout=120)
        pytest.fail(f"the test SLURM cluster did not start:\n{start.stdout}\n{start.stderr}")
    env = {**os.environ, "SLURM_CONF": str(state / "slurm.conf")}
    yield state, env
    subprocess.run(["bash", str(REPO / "tests/slurm/cluster.sh"), "stop", str(state)], timeout=120)


def run_slurm(wd: Path, cfg: Path, env: dict, *extra: str, check: bool = True, background: bool = False):
    cmd = [SNAKEMAKE, "--profile", "profiles/slurm", "--configfile", str(cfg), *TEST_LAYER, *extra]
    if background:
        return subprocess.Popen(cmd, cwd=wd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    proc = subprocess.run(cmd, cwd=wd, env=env, capture_output=True, text=True, timeout=1800)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake on SLURM failed:\n{(proc.stdout + proc.stderr)[-6000:]}")
    return proc.stdout + proc.stderr


def submitted(log: str) -> dict[int, str]:
    """SLURM job id -> the rule (or group) Snakemake submitted it for, from Snakemake's log (whose
    folder names are rule_<rule> or group_<group>_<its rules>)."""
    out = {}
    pattern = r"submitted with SLURM jobid (\d+) \(log: .*?/slurm_logs/(rule|group)_(score_free|[a-z]+)[a-z_]*/"
    for m in re.finditer(pattern, log):
        out[int(m.group(1))] = m.group(3)
    return out


def partitions(state: Path) -> dict[int, str]:
    """SLURM job id -> the partition slurmctld ran it in, from its log."""
    text = (state / "log" / "slurmctld.log").read_text()
    out = {int(j): p for j, p in re.findall(r"Allocate JobId=(\d+) NodeList=\S+ #CPUs=\d+ Partition=(\w+)", text)}
    out.update({int(j): p for j, p in re.findall(r"Started JobId=(\d+) in (\w+) on", text)})
    return out


def allocated_cpus(env: dict) -> dict[int, int]:
    """SLURM job id -> the CPUs it had (finished jobs stay in slurmctld for MinJobAge)."""
    out = subprocess.run(["scontrol", "-o", "show", "job"], env=env, capture_output=True, text=True).stdout
    return {int(j): int(c) for j, c in re.findall(r"JobId=(\d+) .*?NumCPUs=(\d+)", out)}


def rows(wd: Path, stage: str, columns: list[str]) -> list[dict]:
    files = sorted((wd / "results" / "slurmtiny" / stage).rglob("*.parquet"))
    assert files, f"no {stage} shards in {wd}"
    out = [r for f in files for r in pq.read_table(f, columns=columns).to_pylist()]
    return sorted(out, key=lambda r: json.dumps(r, sort_keys=True))


def test_workflow_runs_through_slurm_and_matches_a_local_run(cluster, tmp_path):
    state, env = cluster
    wd = make_workdir(tmp_path / "slurm")
    config = TINY  # 2 blocks: one group job of 2 verify blocks, one of 2 (model-free) score blocks
    cfg = write_config(wd, config)
    log = run_slurm(wd, cfg, env)
    jobs = submitted(log)
    where = partitions(state)
    assert jobs and set(jobs) <= set(where), f"jobs not seen by slurmctld: {set(jobs) - set(where)}"
    ran = {(rule, where[j]) for j, rule in jobs.items()}
    gpu_rules = {"generate", "score"}  # the logprob scorer loads no model: score_free, cpu partition
    assert {"generate", "verify", "score_free", "problems", "analysis"} <= {r for r, _ in ran}, ran
    for rule, part in ran:
        assert part == ("gpu" if rule in gpu_rules else "cpu"), f"{rule} ran in {part}"
    # group jobs: fewer submissions than blocks, each sized like one job (the profile's `cores`: 8),
    # not the sum of its members (16 CPUs for two verify blocks of 8 threads)
    kinds = list(jobs.values())
    assert kinds.count("generate") == 2 and kinds.count("verify") == 1 and kinds.count("score_free") == 1, kinds
    cpus = allocated_cpus(env)
    assert all(cpus[j] <= 8 for j in jobs), {jobs[j]: cpus[j] for j in jobs}

    local = make_workdir(tmp_path / "local")
    lcfg = write_config(local, config)
    proc = subprocess.run([SNAKEMAKE, "--profile", "profiles/local", "--configfile", str(lcfg), "--cores", "2"],
                          cwd=local, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    cols = {"samples": ["problem_id", "sample_index", "seed", "text", "completion_tokens"],
            "verdicts": ["problem_id", "sample_index", "status", "correct", "answer_key"],
            "scores": ["problem_id", "sample_index", "score", "status"]}
    for stage, c in cols.items():
        assert rows(wd, stage, c) == rows(local, stage, c), stage


def _wait_running(env: dict, name_part: str, timeout: float = 300) -> int:
    """Wait until a job whose comment names `name_part` runs; return its SLURM id."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = subprocess.run(["squeue", "-h", "-o", "%i %T %k"], env=env, capture_output=True, text=True).stdout
        for line in out.splitlines():
            jid, st, comment = [*line.split(maxsplit=2), ""][:3]
            if st == "RUNNING" and name_part in comment:
                return int(jid)
        time.sleep(0.5)
    raise AssertionError(f"no running job for {name_part} within {timeout}s")


def test_job_killed_mid_block_leaves_no_shard_and_the_rerun_finishes_it(cluster, tmp_path):
    _, env = cluster
    wd = make_workdir(tmp_path / "kill")
    cfg = write_config(wd, {**TINY, "experiment": "slurmtiny"})
    proc = run_slurm(wd, cfg, env, "--retries", "0", "--until", "generate", background=True)
    jid = _wait_running(env, "generate")
    samples = wd / "results" / "slurmtiny" / "samples"
    logs = wd / "results" / "slurmtiny" / "logs" / "generate"
    # mid-block: the job's Python has started the block (its log says so) and written no shard yet
    _wait_for(lambda: [p for p in logs.rglob("*.log") if "rule generate" in p.read_text(errors="replace")],
              "the generate job's start")
    subprocess.run(["scancel", str(jid)], env=env, check=True)
    assert not list(samples.rglob("*.parquet")), "the block finished before it was cancelled: nothing was tested"
    out, _ = proc.communicate(timeout=1800)
    assert proc.returncode != 0, f"the workflow should report the cancelled job:\n{out[-3000:]}"
    shards = list(samples.rglob("*.parquet"))
    assert len(shards) < 2, "the cancelled block's shard must not exist"
    for s in shards:  # whatever exists is complete
        assert pq.read_table(s).num_rows == Block.parse(s.stem).size
    assert not list(samples.rglob("*.tmp")), "no temporary file may look like a shard"
    run_slurm(wd, cfg, env, "--until", "generate")
    shards = sorted(samples.rglob("*.parquet"))
    assert [s.stem for s in shards] == ["p00000-00002_s000000-000002", "p00000-00002_s000002-000004"]
    assert all(pq.read_table(s).num_rows == 4 for s in shards)


SLOW_TESTS = "import time\ndef check(candidate):\n    time.sleep(1.5)\n    assert candidate(1) == 1\n"


def test_node_failure_during_verification_loses_no_verdicts(cluster, tmp_path):
    _, env = cluster
    wd = make_workdir(tmp_path / "node")
    problems = wd / "slow.jsonl"
    problems.write_text("".join(json.dumps({"id": f"s{i}", "question": f"Write f(x) returning x. ({i})",
                                            "tests": SLOW_TESTS, "entry_point": "f", "style": "asserts"}) + "\n"
                                for i in range(2)))
    config = {**TINY, "datasets": {"slow": {"loader": "jsonl", "args": {
        "path": str(problems), "task": "code",
        "columns": {"problem_id": "id", "tests": "tests", "entry_point": "entry_point", "test_style": "style"}}}},
        "verify": {"workers": 1, "backend": "podman"}}  # the daemonless engine clusters have
    cfg = write_config(wd, config)
    try:
        _verify_through_node_failure(wd, cfg, env)
    finally:
        _kill_leftovers(wd)


def _kill_leftovers(wd: Path) -> None:
    """Kill what the test left running in wd: the job step on the node it set down can outlive
    the test (one was found still running, orphaned, an hour after the session)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if str(wd).encode() in cmdline:
            with contextlib.suppress(OSError):
                os.kill(int(proc.name), signal.SIGKILL)  # it ignores SIGTERM while it shuts down


def _wait_for(check, what: str, timeout: float = 600):
    """Poll `check()` until it returns something true; return it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def _verify_through_node_failure(wd: Path, cfg: Path, env: dict) -> None:
    proc = run_slurm(wd, cfg, env, "--until", "verify", background=True)
    vdir = wd / "results" / "slurmtiny" / "verdicts"
    # the group job verifies both blocks one after the other (profiles/slurm groups verify blocks):
    # once the first block's verdicts are written, the second block's samples are being verified
    _wait_running(env, "verify")
    _wait_for(lambda: list(vdir.rglob("*.parquet")), "the first verdict shard")
    running = _wait_running(env, "verify", timeout=1)  # still running: the second block is mid-verification
    subprocess.run(["scontrol", "update", "nodename=localhost", "state=down", "reason=ttscale-test"], env=env,
                   check=True)
    written = list(vdir.rglob("*.parquet"))
    assert running and len(written) == 1, f"the node must go down mid-verification; verdicts already: {written}"
    time.sleep(3)
    # ReturnToService=2 may have brought the node back already; then resuming it is refused
    subprocess.run(["scontrol", "update", "nodename=localhost", "state=resume"], env=env, check=False)
    out, _ = proc.communicate(timeout=1800)
    assert proc.returncode == 0, out[-6000:]
    verdicts = sorted((wd / "results" / "slurmtiny" / "verdicts").rglob("*.parquet"))
    samples = sorted((wd / "results" / "slurmtiny" / "samples").rglob("*.parquet"))
    assert [v.stem for v in verdicts] == [s.stem for s in samples] and len(samples) == 2
    for v, s in zip(verdicts, samples, strict=True):
        vt = pq.read_table(v).to_pylist()
        st = pq.read_table(s).to_pylist()
        assert [(r["problem_id"], r["sample_index"]) for r in vt] == [(r["problem_id"], r["sample_index"]) for r in st]
        assert all(r["status"] != "sandbox_error" for r in vt)
