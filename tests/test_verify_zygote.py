"""What a sample's process costs: the zygote runs from marshalled code, each sandbox keeps to one CPU,
a sample's collections leave what it inherited alone, and tests are rewritten in one pass.

The pinning is checked for real through the docker and bubblewrap pools (the sample reports the CPUs
it may run on); the rest through the runner as a sandbox starts it, on the host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ttscale.keys import verify_identity
from ttscale.verify import runner
from ttscale.verify.pool import _Pool, run_tasks
from ttscale.verify.sandbox import LIMITS, RUNNER, SANDBOXES, SandboxUnavailable

AFFINITY = "import os\n\ndef cpus():\n    return sorted(os.sched_getaffinity(0))\n"
# the tests run in the runner, which keeps to the same CPU as the sample when pinned
PINNED_TESTS = ("def check(candidate):\n    import os\n    got = candidate()\n"
                "    assert got == sorted(os.sched_getaffinity(0))\n    assert len(got) == 1\n")
UNPINNED_TESTS = "def check(candidate):\n    import os\n    assert candidate() == sorted(os.sched_getaffinity(0))\n"


def _task(i: int, tests: str) -> dict:
    return {"id": i, "kind": "asserts", "code": AFFINITY, "tests": tests, "entry_point": "cpus", "prompt": ""}


def _runner(tasks: list[dict], lim: dict) -> list[dict]:
    lines = [json.dumps(lim)] + [json.dumps(t) for t in tasks]
    done = subprocess.run([sys.executable, "-c", RUNNER], input="\n".join(lines) + "\n", capture_output=True,
                          text=True, timeout=120, check=True)
    return [json.loads(x) for x in done.stdout.splitlines()]


@pytest.mark.parametrize("backend", ["docker", "bubblewrap"])
def test_each_sandbox_keeps_to_one_cpu(backend):
    try:
        SANDBOXES.get(backend)().check()
    except SandboxUnavailable as exc:
        pytest.fail(f"the {backend} sandbox must be available here (bootstrap.sh sets it up): {exc}")
    lim = {"wall_s": 5, "cpu_s": 5}
    pinned = run_tasks([_task(i, PINNED_TESTS) for i in range(6)], backend, lim, workers=2)
    assert [pinned[i]["status"] for i in range(6)] == ["passed"] * 6, pinned
    if len(os.sched_getaffinity(0)) > 1:  # unpinned, the sample may use every CPU the sandbox has
        free = run_tasks([_task(0, PINNED_TESTS), _task(1, UNPINNED_TESTS)], backend, lim, workers=1,
                         settings={"pin_cpus": False})
        assert free[0]["status"] == "failed" and free[1]["status"] == "passed", free


def test_the_pool_gives_each_slot_one_of_its_cpus():
    box = SANDBOXES.get("bubblewrap")()  # only its settings are read
    pool = _Pool([], box, "bubblewrap", dict(LIMITS))
    cpus = sorted(os.sched_getaffinity(0))
    chosen = [pool.pinned(slot)["cpu"] for slot in range(2 * len(cpus))]
    assert chosen == cpus + cpus  # a different CPU per slot while there are enough, then round again
    box.settings["pin_cpus"] = False
    assert "cpu" not in pool.pinned(0)


def test_a_cpu_outside_the_sandbox_falls_back_to_one_inside(tmp_path):
    """The host's CPU numbers may not all exist in the sandbox (an engine with its own cpuset)."""
    allowed = sorted(os.sched_getaffinity(0))
    lim = {**LIMITS, "wall_s": 10, "cpu_s": 5, "workroot": str(tmp_path / "work"), "cpu": 4096 + len(allowed)}
    got = _runner([_task(0, PINNED_TESTS)], lim)
    assert got[0]["status"] == "passed", got


def test_pinning_is_not_part_of_the_verify_identity():
    config = {"datasets": {"toy": {"loader": "human_eval"}}, "verify": {"container": {"memory_mb": 2048}}}
    base = verify_identity(config, "toy")
    for pin in (True, False):
        other = verify_identity({**config, "verify": {"container": {"memory_mb": 2048, "pin_cpus": pin}}}, "toy")
        assert other == base
    assert verify_identity({**config, "verify": {"container": {"memory_mb": 4096}}}, "toy") != base
    assert "container" not in verify_identity({**config, "verify": {"container": {"pin_cpus": True}}}, "toy")


def test_the_zygote_runs_from_marshalled_code_and_freezes_what_samples_inherit(tmp_path):
    """The zygote is `python3 -c _BOOT` (not the runner's source, whose compiling leaves megabytes
    behind in every fork); a sample's process finds the zygote's objects frozen and its own
    allocations collected as usual."""
    argv, code = runner._zygote_command()
    os.close(code)
    assert argv[-2:] == ["-c", runner._BOOT]
    probe = ("import gc, os\n\ndef probe():\n    junk = [[i] for i in range(100000)]\n    del junk\n"
             "    argv = open('/proc/%d/cmdline' % os.getppid(), 'rb').read().split(b'\\0')\n"
             "    return [gc.get_freeze_count() > 1000, gc.isenabled(), argv[argv.index(b'-c') + 1] == BOOT]\n")
    probe = probe.replace("BOOT", repr(runner._BOOT.encode()))
    tests = "def check(candidate):\n    assert candidate() == [True, True, True]\n"
    lim = {**LIMITS, "wall_s": 20, "cpu_s": 10, "workroot": str(tmp_path / "work")}
    got = _runner([{"id": 0, "kind": "asserts", "code": probe, "tests": tests, "entry_point": "probe",
                    "prompt": ""}], lim)
    assert got[0]["status"] == "passed", got


def test_the_zygote_holds_only_what_samples_need(tmp_path):
    """Modules only the runner uses (ast, socket, ctypes, pickle's Python layer) stay out of the zygote,
    whose memory every fork copies page-table entries for; the zygote and the sample's process use the
    C modules underneath. LD_BIND_NOW, which the zygote starts with, is gone from a sample's environment
    (the fidelity tests compare the whole environment with python3's). _prctl, which makes the zygote
    non-dumpable without ctypes, works."""
    probe = ("import os, sys\n\nHELD = sorted(m for m in ('ast', 'socket', 'ctypes', 'pickle') if m in sys.modules)\n"
             "def probe():\n    return [HELD, 'LD_BIND_NOW' in os.environ]\n")
    tests = "def check(candidate):\n    assert candidate() == [[], False]\n"
    lim = {**LIMITS, "wall_s": 20, "cpu_s": 10, "workroot": str(tmp_path / "work")}
    got = _runner([{"id": 0, "kind": "asserts", "code": probe, "tests": tests, "entry_point": "probe",
                    "prompt": ""}], lim)
    assert got[0]["status"] == "passed", got
    dumpable = ("import ctypes, sys\nsys.path[:0] = [sys.argv[1]]\nfrom ttscale.verify import runner\n"
                "runner._prctl(4, 0)\nprint(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))\n")  # PR_GET_DUMPABLE
    src = str(Path(runner.__file__).parents[2])
    done = subprocess.run([sys.executable, "-c", dumpable, src], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0", done.stderr


NESTED = '''
def check(candidate):
    assert candidate(1) == 1
    for x in (2, 3):
        assert candidate(x) == x
    if candidate(0) == 0:
        assert candidate(4) == 4
    else:
        assert False
    try:
        assert candidate(5) == 5
    except ZeroDivisionError:
        assert False
    finally:
        assert candidate(6) == 6
    with open(__import__("os").devnull) as fh:
        assert candidate(7) == 7
    while True:
        assert candidate(8) == 8
        break
    class Inner:
        assert candidate(9) == 9
    match candidate(10):
        case 10:
            assert candidate(11) == 11
'''


def test_every_assert_is_strict_and_counted_wherever_it_is(tmp_path):
    """One pass rewrites the asserts in every statement list (bodies, else, finally, handlers, cases):
    each `==` goes through the strict comparison and each assert that holds is counted."""
    code, total, names = runner.compile_tests(NESTED, "f")
    assert total == 11 and names == ["f"]
    check = next(c for c in code.co_consts if getattr(c, "co_name", "") == "check")
    inner = [c for c in check.co_consts if hasattr(c, "co_names")]  # the class body is a code object of its own
    seen = set(check.co_names).union(*(c.co_names for c in inner))
    assert {"__ttscale_eq__", "__ttscale_count__"} <= seen
    good = {"id": 0, "kind": "asserts", "code": "def f(x):\n    return x\n", "tests": NESTED, "entry_point": "f",
            "prompt": ""}
    wrong = {**good, "id": 1, "code": "def f(x):\n    return x if x < 6 else -1\n"}
    lim = {**LIMITS, "wall_s": 20, "cpu_s": 10, "workroot": str(tmp_path / "work")}
    got = _runner([good, wrong], lim)
    # every assert that ran was counted: the loop's twice, the else and except branches never
    assert (got[0]["status"], got[0]["tests_passed"], got[0]["tests_total"]) == ("passed", 10, 11), got[0]
    assert (got[1]["status"], got[1]["tests_passed"]) == ("failed", 5), got[1]
