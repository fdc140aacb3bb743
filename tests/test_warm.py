"""The warm worker (ttscale.warm): engine jobs of a folder run in one process that keeps its engines.

The bookkeeping (start, reuse, stale code, errors, a dying worker, a cancelled job, idling out) is
checked with cheap standard-library calls sent through the real worker; the last test runs the tiny
workflow warm and cold on the real engine and checks that the samples are the same.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from workflow_utils import snakemake, write_config

from ttscale import warm
from ttscale.config import load_config
from ttscale.errors import TtscaleError
from ttscale.snake import write_identity


def _call(root: Path, fn, keep_alive: float = 30.0, **kwargs) -> None:
    warm.call(root, fn, kwargs, logfile=str(root / "job.log"), rule="test", wildcards={}, keep_alive=keep_alive)


def _gone(pid: int, seconds: float = 15.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not Path(f"/proc/{pid}").exists() or b"ttscale.warm" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def root(tmp_path):
    yield tmp_path
    warm.stop(tmp_path)


def test_jobs_share_one_worker_and_write_their_logs(root):
    assert warm.status(root) is None
    _call(root, write_identity, path=str(root / "a.json"), text="{}")
    first = warm.status(root)
    assert first and first["pid"] != os.getpid()
    _call(root, write_identity, path=str(root / "b.json"), text="[]")
    assert warm.status(root)["pid"] == first["pid"]
    assert (root / "a.json").read_text() == "{}\n" and (root / "b.json").read_text() == "[]\n"
    log = (root / "job.log").read_text()
    assert log.count(f"warm worker pid {first['pid']}") == 2 and "job 2)" in log


def test_errors_come_back_to_the_job(root):
    with pytest.raises(TtscaleError, match="missing.yaml does not exist"):
        _call(root, load_config, path=str(root / "missing.yaml"))
    with pytest.raises(RuntimeError, match="FileNotFoundError"):
        _call(root, write_identity, path=str(root / "no" / "such" / "dir.json"), text="{}")
    assert "Traceback" in (root / "job.log").read_text()
    # the worker survives both, and so does a job that calls sys.exit
    pid = warm.status(root)["pid"]
    with pytest.raises(RuntimeError, match="SystemExit"):
        _call(root, sys.exit)
    assert warm.status(root)["pid"] == pid


def test_stale_code_is_replaced(root):
    _call(root, write_identity, path=str(root / "a.json"), text="{}")
    info = warm.status(root)
    state = root / warm.STATE / "worker.json"
    state.write_text(json.dumps({**info, "fingerprint": "other code"}))
    _call(root, write_identity, path=str(root / "b.json"), text="{}")
    assert _gone(info["pid"])
    assert warm.status(root)["pid"] != info["pid"]


def test_a_dying_worker_fails_only_its_job(root):
    _call(root, write_identity, path=str(root / "a.json"), text="{}")
    pid = warm.status(root)["pid"]
    with pytest.raises(RuntimeError, match="died during the job"):
        _call(root, os.abort)
    assert _gone(pid)
    _call(root, write_identity, path=str(root / "b.json"), text="{}")  # a new worker takes over
    assert warm.status(root)["pid"] != pid


def _client(root: str) -> None:
    _call(Path(root), subprocess.run, args=["sleep", "60"])


def test_a_cancelled_job_stops_the_worker(root):
    job = multiprocessing.get_context("spawn").Process(target=_client, args=(str(root),))
    job.start()
    end = time.monotonic() + 60
    log = root / "job.log"
    while not (warm.status(root) and log.exists() and "job 1)" in log.read_text(errors="replace")):
        assert time.monotonic() < end, "the job never reached the worker"
        time.sleep(0.1)
    pid = warm.status(root)["pid"]
    job.kill()  # what Snakemake does to a cancelled job's process
    job.join()
    assert _gone(pid), "the worker kept running a job whose process was killed"


def test_idle_worker_exits_and_stop_command(root, capsys):
    _call(root, write_identity, keep_alive=1.0, path=str(root / "a.json"), text="{}")
    pid = warm.status(root)["pid"]
    assert _gone(pid, 20)
    assert warm.status(root) is None and not (root / warm.STATE / "worker.json").exists()
    _call(root, write_identity, path=str(root / "b.json"), text="{}")
    from ttscale.cli import main

    assert main(["warm", "status", "--directory", str(root)]) == 0
    assert f"warm worker pid {warm.status(root)['pid']}" in capsys.readouterr().out
    assert main(["warm", "stop", "--directory", str(root)]) == 0
    assert "stopped the warm worker" in capsys.readouterr().out and warm.status(root) is None


def test_keep_alive_settings(monkeypatch):
    monkeypatch.delenv("TTSCALE_WARM", raising=False)
    assert warm.keep_alive(600) == 600 and warm.keep_alive(0) == 0 and warm.keep_alive(None) == 0
    monkeypatch.setenv("TTSCALE_WARM", "0")
    assert warm.keep_alive(600) == 0
    monkeypatch.setenv("TTSCALE_WARM", "30")
    assert warm.keep_alive(600) == 30 and warm.keep_alive(0) == 0  # a rule without warm_s stays cold
    monkeypatch.setenv("TTSCALE_WARM", "yes")
    with pytest.raises(Exception, match="TTSCALE_WARM='yes'"):
        warm.keep_alive(600)


@pytest.mark.engine
def test_warm_run_gives_the_samples_of_a_cold_run(tmp_path, embedded_model):
    """The tiny workflow warm (one worker, engines kept between jobs) and cold (a process per job):
    the same samples and judge scores."""
    from conftest import make_workdir
    from test_workflow import TINY

    texts = {}
    for mode, keep in (("warm", "60"), ("cold", "0")):
        wd = make_workdir(tmp_path / mode)
        try:
            out = snakemake(wd, write_config(wd, TINY), env={**os.environ, "TTSCALE_WARM": keep})
            assert ("`ttscale warm stop` ends it now" in out) == (mode == "warm")
            if mode == "warm":
                logs = sorted((wd / "results" / "tiny" / "logs").rglob("*.log"))
                engine_jobs = [p.read_text() for p in logs if "/generate/" in str(p) or "/score/" in str(p)]
                pids = {line.split("warm worker pid ")[1].split(",")[0]
                        for text in engine_jobs for line in text.splitlines() if "warm worker pid" in line}
                assert len(engine_jobs) >= 4 and len(pids) == 1
                worker_log = (wd / warm.STATE / "worker.log").read_text()
                assert worker_log.count("reusing a kept vLLM engine") >= 2  # the later jobs of each engine
            else:
                assert not (wd / warm.STATE / "worker.json").exists()
            shards = sorted((wd / "results" / "tiny").rglob("*.parquet"))
            texts[mode] = {str(p.relative_to(wd)): pq.read_table(p).drop_columns(
                [c for c in pq.read_schema(p).names if c.endswith("_s")]).to_pylist()
                for p in shards if "/samples/" in str(p) or "/scores/" in str(p)}
        finally:
            warm.stop(wd)
    assert texts["warm"] and texts["warm"].keys() == texts["cold"].keys()
    assert texts["warm"] == texts["cold"]


def test_kept_engines_are_reused_and_dropped_together(monkeypatch):
    """The worker's engine cache (ttscale.engine with keep_engines), with a stand-in for vllm.LLM."""
    from types import SimpleNamespace

    from ttscale import engine

    class FakeLLM:
        def __init__(self, **kwargs):
            self.kwargs, self.resets = kwargs, 0

        def reset_prefix_cache(self):
            self.resets += 1

    monkeypatch.setitem(sys.modules, "vllm", SimpleNamespace(LLM=FakeLLM))
    monkeypatch.setattr(engine, "on_cpu", lambda: True)
    monkeypatch.setattr(engine, "_KEPT", {})
    monkeypatch.setattr(engine, "_KEYS", {})
    monkeypatch.setattr(engine, "_ACTIVE", [])
    engine.keep_engines(2)
    try:
        sampler = engine.make_llm("m", dtype="float32")
        engine.release(sampler)
        judge = engine.make_llm("m", dtype="bfloat16")
        engine.release(judge)
        again = engine.make_llm("m", dtype="float32")
        assert again is sampler and again.resets == 1  # same settings: the kept engine, cache emptied
        engine.release(again)
        assert len(engine._KEPT) == 2
        third = engine.make_llm("other", dtype="float32")  # room for two: both kept ones go first
        assert third is not sampler and engine._KEPT == {}
        engine.release(third)
        monkeypatch.setattr(engine, "on_cpu", lambda: False)  # a GPU holds one engine at a time
        fourth = engine.make_llm("m", dtype="float32")
        assert engine._KEPT == {} and fourth is not sampler
        engine.release(fourth)
    finally:
        engine.keep_engines(0)
