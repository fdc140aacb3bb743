"""The runner's batched answers and the host's recovery when a sandbox dies mid-batch.

The runner here is started as a plain process on the host (tests only: trusted programs, no
sandbox), so that a sample can take it down the way no sample can inside a real sandbox (there it
is PID 1 and immune to their signals); the real sandboxes are tested in test_verify_hostile.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from ttscale.errors import TtscaleError
from ttscale.verify import pool, sandbox
from ttscale.verify.pool import run_tasks
from ttscale.verify.sandbox import LIMITS, RUNNER, ProcessSession

TESTS = "def check(candidate):\n    assert candidate(2) == 4\n"
LIMITS_HERE = {**LIMITS, "wall_s": 60, "memory_mb": 1 << 20}  # the test process is large: no address-space cap


def _task(i: int, body: str = "    return x * x\n", **extra) -> dict:
    return {"id": i, "kind": "asserts", "code": "def sq(x):\n" + body, "tests": TESTS, "entry_point": "sq", **extra}


def _session(tmp_path: Path) -> ProcessSession:
    return ProcessSession([sys.executable, "-c", RUNNER], {**LIMITS_HERE, "workroot": str(tmp_path / "work")})


def test_a_lone_task_is_answered_without_more_input(tmp_path):
    """The runner batches answers, but never holds one back while it waits for the host."""
    session = _session(tmp_path)
    try:
        session.send(_task(0))
        assert session.recv(30.0)["status"] == "passed"
        session.send(_task(1), _task(2), _task(3, "    return 0\n"))
        assert [session.recv(30.0)["status"] for _ in range(3)] == ["passed", "passed", "failed"]
    finally:
        session.close()


def test_a_flush_task_is_answered_before_the_next_one_runs(tmp_path):
    """A task marked flush (the host reruns a dead sandbox's tasks so) is answered at once, while a
    task sent with it is still running: the second waits for a file the test writes only after it
    has the first answer."""
    go = tmp_path / "go"
    wait = (f"    import os, time\n    while not os.path.exists({str(go)!r}):\n        time.sleep(0.01)\n"
            "    return x * x\n")
    session = _session(tmp_path)
    try:
        session.send(_task(0, flush=True), _task(1, wait))
        first = session.recv(30.0)
        go.write_text("")
        assert (first["id"], first["status"]) == (0, "passed")
        assert session.recv(30.0)["status"] == "passed"
    finally:
        go.write_text("")
        session.close()


class _HostSandbox(sandbox._CommandSandbox):
    """The runner as a plain host process: for this test's trusted programs only."""

    name, binary = "host-test", sys.executable
    opened = 0

    def command(self, limits: dict, uid: int) -> list[str]:
        type(self).opened += 1
        return [sys.executable, "-c", RUNNER]


def test_a_sample_that_kills_its_sandbox_is_the_only_one_crashed(tmp_path, monkeypatch):
    """Answers batched in the runner die with it: the host must rerun the unanswered tasks one by one
    instead of blaming the first of them, so exactly the killer is `crashed` and every other
    task of the batch still gets its own verdict."""
    monkeypatch.setitem(sandbox.SANDBOXES._entries, "host-test", _HostSandbox)
    # the runner is the parent of the zygote, the sample's parent (runner.ZYGOTE); on the host it is not PID 1
    killer = ("    import os, signal\n    with open(f'/proc/{os.getppid()}/stat') as fh:\n"
              "        runner = int(fh.read().rsplit(')', 1)[1].split()[1])\n"
              "    os.kill(runner, signal.SIGKILL)\n")
    tasks = [_task(i) if i != 5 else _task(i, killer) for i in range(12)]
    tasks[7] = _task(7, "    return 0\n")
    results = run_tasks(tasks, "host-test", {**LIMITS_HERE, "workroot": str(tmp_path / "work")}, workers=1)
    statuses = {i: r["status"] for i, r in results.items()}
    assert statuses[5] == "crashed", results[5]
    assert statuses[7] == "failed"
    assert all(s == "passed" for i, s in statuses.items() if i not in (5, 7)), statuses
    assert _HostSandbox.opened >= 3  # the first death reran its batch; the second named the killer


@pytest.mark.parametrize("chunks", [[b'{"a": 1}\n{"b"', b': 2}\n'], [b'{"a": 1}', b"\n", b'{"b": 2}\n']])
def test_runner_reads_lines_across_reads(chunks):
    """The runner's own line buffer (it must know whether a next task is waiting): lines split
    across reads, or several in one read, come out whole and in order."""
    import os
    import time

    from ttscale.verify.runner import _Lines

    r, w = os.pipe()

    def writer() -> None:
        for c in chunks:
            os.write(w, c)
            time.sleep(0.05)  # usually separate reads; the result must not depend on it
        os.close(w)

    t = threading.Thread(target=writer)
    t.start()
    try:
        lines = _Lines(r)
        assert lines.next() == b'{"a": 1}'
        assert lines.next() == b'{"b": 2}'
        assert lines.next() is None and not lines.ready()
    finally:
        t.join()
        os.close(r)


def test_sandbox_slots_are_never_shared(tmp_path, monkeypatch):
    """Each running sandbox holds its own slot (uid), also against other processes on the machine,
    and a slot is free again once its holder is done."""
    import subprocess

    monkeypatch.setattr(pool, "SLOT_LOCKS", tmp_path / "slots")
    with pool.claimed_slot() as a, pool.claimed_slot() as b:
        assert (a, b) == (0, 1)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
         str(tmp_path / "slots" / str(sandbox.BASE_UID))], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pool.claimed_slot() as c:
            assert c == 1  # slot 0 belongs to the other process
    finally:
        holder.communicate("")
    with pool.claimed_slot() as d:
        assert d == 0


def test_a_task_after_another_is_sent_prepared_from_its_result(tmp_path, monkeypatch):
    """`after`: a task waits in the queue for an earlier task's result and is sent as prepare(task,
    result), across workers (the CLI's samples wait so for their problem's reference run)."""
    monkeypatch.setitem(sandbox.SANDBOXES._entries, "host-test", _HostSandbox)
    refs = [_task(0), _task(1, "    return 0\n")]  # the first passes, the second fails
    seen: dict[int, str] = {}

    def prepare(task: dict, result: dict) -> dict:
        seen[task["id"]] = result["status"]
        # the sample is correct only where its reference passed: its verdict shows what prepare saw
        body = "    return x * x\n" if result["status"] == "passed" else "    return -1\n"
        assert "after" not in task  # the pool hands prepare the task without it
        return {**task, "code": "def sq(x):\n" + body}

    samples = [_task(i, "    raise SystemExit\n", after=i % 2) for i in range(2, 40)]
    results = run_tasks(refs + samples, "host-test", {**LIMITS_HERE, "workroot": str(tmp_path / "work")},
                        workers=2, prepare=prepare)
    assert seen == {i: ("passed" if i % 2 == 0 else "failed") for i in range(2, 40)}
    assert {i: r["status"] for i, r in results.items()} == \
        {i: ("passed" if i % 2 == 0 else "failed") for i in range(40)}
    with pytest.raises(TtscaleError, match="prepare"):
        run_tasks(samples, "host-test", LIMITS_HERE, workers=1)
