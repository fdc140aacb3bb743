"""The hostile suite: untrusted samples interleaved with correct ones in one shard, in a real sandbox.

Every hostile case must get one of its expected verdicts and none may pass; every correct solution
must pass, whatever the hostile sample before it did (tests/hostile/cases.py lists the cases).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from hostile.cases import CASES, CORRECT, PROMPT, TAMPER_CASES, TAMPER_CORRECT, TAMPER_PROMPT, TAMPER_TESTS, TESTS

from ttscale.io import read_table, write_table
from ttscale.schemas import PROBLEMS, SAMPLES, VERDICTS
from ttscale.verify import verify_block
from ttscale.verify.pool import run_tasks
from ttscale.verify.runner import network_interfaces
from ttscale.verify.sandbox import SANDBOXES, BubblewrapSandbox, SandboxUnavailable

LIMITS = {"wall_s": 3, "cpu_s": 3, "memory_mb": 512}


def _shard(tmp: Path) -> tuple[Path, Path, list[tuple[str, set[str] | None]]]:
    def problem(pid: str, position: int, prompt: str, tests: str, entry: str) -> dict:
        return {"problem_id": pid, "position": position, "dataset": "toy", "task": "code", "question": prompt,
                "prompt_mode": "chat", "messages": "[]", "completion_prompt": "", "assistant_prefix": "",
                "stop": [], "answer": None, "tests": tests, "test_style": "asserts", "entry_point": entry,
                "solution": None, "level": None, "metadata": json.dumps({"prompt": prompt})}

    problems = tmp / "problems.parquet"
    rows = [problem("toy/add", 0, PROMPT, TESTS, "add"), problem("toy/norm", 1, TAMPER_PROMPT, TAMPER_TESTS, "norm")]
    write_table(problems, pa.Table.from_pylist(rows, schema=PROBLEMS), PROBLEMS)
    texts, expect = [], []
    for pid, cases, correct in (("toy/add", CASES, CORRECT), ("toy/norm", TAMPER_CASES, TAMPER_CORRECT)):
        for i, (name, text, statuses) in enumerate(cases):
            texts += [(pid, correct[i % len(correct)]), (pid, text)]
            expect += [("correct", None), (name, statuses)]
    rows = [{"problem_id": pid, "sample_index": i, "seed": i, "prompt": "", "text": t, "finish_reason": "stop",
             "prompt_tokens": 1, "completion_tokens": 1, "cumulative_logprob": None, "latency_s": None}
            for i, (pid, t) in enumerate(texts)]
    samples = tmp / "samples.parquet"
    write_table(samples, pa.Table.from_pylist(rows, schema=SAMPLES), SAMPLES)
    return samples, problems, expect


def test_at_least_thirty_hostile_cases():
    assert len(CASES) >= 30 and len({name for name, _, _ in CASES}) == len(CASES)


@pytest.mark.docker
@pytest.mark.parametrize("backend", ["docker", "bubblewrap", "podman"])
def test_hostile_samples_never_pass_and_never_hurt_others(backend, tmp_path):
    try:
        SANDBOXES.get(backend)().check()
    except SandboxUnavailable as exc:
        pytest.fail(f"the {backend} sandbox must be available here (bootstrap.sh sets it up): {exc}")
    samples, problems, expect = _shard(tmp_path)
    out = tmp_path / "verdicts.parquet"
    verify_block(samples, problems, out, {"backend": backend, "limits": LIMITS}, threads=2)
    verdicts = read_table(out, VERDICTS).to_pylist()
    assert len(verdicts) == len(expect)
    wrong = []
    for (name, statuses), v in zip(expect, verdicts, strict=True):
        if statuses is None:
            if v["status"] != "passed" or not v["correct"]:
                wrong.append(f"correct solution #{v['sample_index']} got {v['status']}: {v['output_tail'][-200:]}")
        elif v["correct"] or v["status"] not in statuses:
            wrong.append(f"{name} got {v['status']} (expected {sorted(statuses)}): {v['output_tail'][-200:]}")
    assert not wrong, "\n".join(wrong)


def test_unavailable_backend_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match="podman.*not installed"):
        SANDBOXES.get("podman")().check()
    samples, problems, _ = _shard(tmp_path)
    with pytest.raises(SandboxUnavailable):
        verify_block(samples, problems, tmp_path / "v.parquet", {"backend": "podman"}, threads=1)
    assert not (tmp_path / "v.parquet").exists()


def test_network_interfaces_lists_all_but_loopback():
    listing = ("Inter-|   Receive                            |  Transmit\n"
               " face |bytes    packets errs drop fifo frame |bytes\n"
               "    lo:       0       0    0    0    0     0 0\n"
               "  eth0: 1314  12    0    0    0     0 0\n"
               "wlan0:0 0 0 0 0 0 0\n")
    assert network_interfaces(listing) == ["eth0", "wlan0"]
    assert network_interfaces("\n".join(listing.splitlines()[:3])) == []


def _with_network(backend: str, monkeypatch) -> None:
    """Make `backend` start its sandboxes with the host's network, as a misconfigured backend would."""
    if backend == "docker":
        from docker.models.containers import ContainerCollection

        create = ContainerCollection.create

        def host_network(self, *args, **kwargs):
            return create(self, *args, **{**kwargs, "network_disabled": False, "network_mode": "host"})

        monkeypatch.setattr(ContainerCollection, "create", host_network)
    else:
        command = BubblewrapSandbox.command

        def shared_network(self, limits, uid):
            argv = command(self, limits, uid)
            after = argv.index("--unshare-all") + 1
            return [*argv[:after], "--share-net", *argv[after:]]

        monkeypatch.setattr(BubblewrapSandbox, "command", shared_network)


@pytest.mark.docker
@pytest.mark.parametrize("backend", ["docker", "bubblewrap"])
def test_a_sandbox_with_a_network_runs_nothing(backend, monkeypatch):
    """The runner checks its own network namespace before it runs a sample: a sandbox that can see
    an interface besides loopback is a clear error naming the backend, and no sample runs."""
    _with_network(backend, monkeypatch)
    task = {"id": 0, "kind": "asserts", "code": "x = 1\n", "tests": "assert x == 1\n", "entry_point": None}
    with pytest.raises(SandboxUnavailable, match=f"verify.backend {backend}: .*besides loopback"):
        run_tasks([task, {**task, "id": 1}], backend, LIMITS, workers=2)
