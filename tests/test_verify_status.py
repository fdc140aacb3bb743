"""The runner's status decision (ttscale.verify.runner.decide_status), a pure function: every status
it can give and every signal that ends a sample, without running a sandbox."""

from __future__ import annotations

import json
import signal

import pytest

from ttscale.verify.runner import _death, decide_status

LIM = {"wall_s": 10.0, "cpu_s": 10, "output_mb": 4}
NONCE = "n0nce"


def status_of(reason, wstatus, cpu, report, nonce, lim):
    return decide_status(reason, wstatus, cpu, report, nonce, lim)


def killed(sig: int) -> int:
    """The wait status of a child killed by `sig`."""
    return int(sig)


def exited(code: int) -> int:
    """The wait status of a child that exited with `code`."""
    return code << 8


def report(**fields) -> bytes:
    return (json.dumps(fields) + "\n").encode()


def test_runner_kills_for_time_and_output():
    assert status_of("timeout", killed(signal.SIGKILL), 0.1, b"", NONCE, LIM) == {
        "status": "timeout", "error": "wall time limit of 10.0 s"}
    assert status_of("output", killed(signal.SIGKILL), 0.1, b"", NONCE, LIM) == {
        "status": "crashed", "error": "output limit of 4 MB exceeded"}
    # the runner's reason wins over a report the child wrote before it was killed
    assert status_of("timeout", exited(0), 0.1, report(status="passed", marker=NONCE), NONCE, LIM)["status"] \
        == "timeout"


@pytest.mark.parametrize(("sig", "cpu", "status"), [
    (signal.SIGXCPU, 10.0, "timeout"),  # RLIMIT_CPU's soft limit
    (signal.SIGKILL, 9.96, "timeout"),  # its hard limit: SIGKILL with the CPU time used up
    (signal.SIGKILL, 0.5, "memory"),  # SIGKILL early: the kernel's OOM killer (a stdio program)
    (signal.SIGSEGV, 0.1, "crashed"),
    (signal.SIGABRT, 0.1, "crashed"),
    (signal.SIGTERM, 0.1, "crashed"),
    (signal.SIGXFSZ, 0.1, "crashed"),  # RLIMIT_FSIZE
    (signal.SIGBUS, 0.1, "crashed"),
])
def test_signals(sig, cpu, status):
    got = status_of(None, killed(sig), cpu, report(status="passed", marker=NONCE), NONCE, LIM)
    assert got["status"] == status
    assert got["error"] == f"killed by signal {signal.Signals(sig).name}"


@pytest.mark.parametrize(("code", "status"), [(0, "failed"), (1, "crashed"), (137, "crashed")])
def test_exit_without_a_report(code, status):
    """A child that exits before the harness reported (os._exit in the sample, say)."""
    got = status_of(None, exited(code), 0.1, b"", NONCE, LIM)
    assert got == {"status": status, "error": f"exited with status {code} before the tests finished"}
    # an unreadable report counts as none
    assert status_of(None, exited(code), 0.1, b"{not json\n", NONCE, LIM)["status"] == status


def test_harness_report():
    ok = status_of(None, exited(0), 0.1, report(status="passed", marker=NONCE, tests_passed=3, tests_total=3),
                       NONCE, LIM)
    assert ok == {"status": "passed", "tests_passed": 3, "tests_total": 3}
    failed = status_of(None, exited(0), 0.1, report(status="failed", error="AssertionError", tests_passed=1,
                                                        tests_total=3), NONCE, LIM)
    assert failed == {"status": "failed", "error": "AssertionError", "tests_passed": 1, "tests_total": 3}
    assert status_of(None, exited(0), 0.1, report(status="timeout"), NONCE, LIM) == {
        "status": "timeout", "error": "wall time limit of 10.0 s"}
    assert status_of(None, exited(0), 0.1, report(error="no status"), NONCE, LIM) == {
        "status": "crashed", "error": "no status"}
    # only the first line counts
    assert status_of(None, exited(0), 0.1, report(status="failed") + report(status="passed", marker=NONCE),
                         NONCE, LIM)["status"] == "failed"


def test_a_pass_needs_the_runs_nonce():
    """A sample that forges the harness's report cannot know the nonce of its run."""
    for marker in (None, "guess", NONCE.upper()):
        fields = {"status": "passed"} if marker is None else {"status": "passed", "marker": marker}
        assert status_of(None, exited(0), 0.1, report(**fields), NONCE, LIM) == {
            "status": "failed", "error": "the test harness did not confirm the result"}


def test_an_asserts_sample_that_ends_before_it_answers():
    """An asserts-style sample's process that ends while the runner's tests wait for it (runner._death):
    the OOM killer's or the address-space limit's SIGKILL is memory, RLIMIT_CPU's (at the CPU limit) a
    timeout, an exit before the tests finished a failure, any other signal a crash."""
    assert _death(killed(signal.SIGKILL), 0.5, LIM) == {"status": "memory", "error": "killed by signal SIGKILL"}
    assert _death(killed(signal.SIGKILL), 10.0, LIM) == {"status": "timeout", "error": "CPU time limit of 10 s"}
    assert _death(killed(signal.SIGXCPU), 10.0, LIM)["status"] == "timeout"
    assert _death(killed(signal.SIGSEGV), 0.1, LIM) == {"status": "crashed", "error": "killed by signal SIGSEGV"}
    assert _death(exited(0), 0.1, LIM) == {"status": "failed",
                                           "error": "exited with status 0 before the tests finished"}
    assert _death(exited(3), 0.1, LIM)["status"] == "crashed"
