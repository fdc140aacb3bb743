"""Progress lines reach the terminal that runs Snakemake (ttscale.console), also from the warm worker."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from ttscale import console, warm


def test_relay_copies_only_complete_progress_lines(tmp_path):
    log = tmp_path / "job.log"
    log.write_text("2026-01-01 INFO ttscale: rule generate\n"
                   "2026-01-01 INFO ttscale.progress: 4/16 samples (25%), 90 tok/s, elapsed 0m04s, left 0m12s\n"
                   "2026-01-01 INFO ttscale.progress: 8/16 samp")  # still being written
    out = io.StringIO()
    offset = console.relay(log, 0, out)
    assert out.getvalue().splitlines() == [
        "2026-01-01 INFO ttscale.progress: 4/16 samples (25%), 90 tok/s, elapsed 0m04s, left 0m12s"]
    with log.open("a") as fh:
        fh.write("les (50%), 80 tok/s, elapsed 0m08s, left 0m08s\n2026-01-01 INFO vllm: noise\n")
    out2 = io.StringIO()
    end = console.relay(log, offset, out2)
    assert out2.getvalue() == ("2026-01-01 INFO ttscale.progress: 8/16 samples (50%), 80 tok/s, elapsed 0m08s, "
                               "left 0m08s\n")
    assert end == log.stat().st_size and console.relay(log, end, io.StringIO()) == end
    assert console.relay(tmp_path / "missing.log", 7) == 7 and console.log_size(None) == 0


@pytest.fixture
def root(tmp_path, monkeypatch):
    # the worker imports this module by name
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(Path(__file__).parent),
                                                                    os.environ.get("PYTHONPATH")])))
    yield tmp_path
    warm.stop(tmp_path)


def test_warm_job_progress_reaches_the_client_while_it_runs(root, monkeypatch):
    from progress_job import slow_job  # the worker imports it by this name

    logfile = root / "job.log"
    logfile.write_text("an earlier run's progress: 1/1 ttscale.progress: old\n")
    seen: list[tuple[float, str]] = []
    real = console.relay

    def timed(path, offset, out=None):
        buf = io.StringIO()
        new = real(path, offset, buf)
        seen.extend((time.monotonic(), line) for line in buf.getvalue().splitlines())
        return new

    monkeypatch.setattr(console, "relay", timed)
    warm.call(root, slow_job, {"steps": 3, "pause": 1.5}, logfile=str(logfile), rule="generate", wildcards={},
              keep_alive=30.0)
    lines = [line for _, line in seen]
    assert len(lines) == 3 and all("ttscale.progress" in line and "items" in line for line in lines)
    assert lines[-1].split("ttscale.progress: ")[1].startswith("3/3 items")
    assert not any("old" in line for line in lines)  # the log's earlier lines are not repeated
    # the first line arrived while the job still ran (about 3 s before the last)
    assert seen[-1][0] - seen[0][0] > 1.0
