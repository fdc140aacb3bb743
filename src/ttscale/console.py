"""Progress lines of engine jobs on the terminal that runs Snakemake.

A job that runs in its own process logs to its log file and to its stderr, which Snakemake's local
executor passes to its terminal and SLURM writes to the job's output file. A job that runs in the
warm worker (ttscale.warm) logs to its log file from the worker's process, whose stderr is the
worker's log; its Snakemake job process only waits for the answer. While it waits it copies the
progress lines (logger `ttscale.progress`, at most one every `Progress.interval` seconds) that
appear in the job's log file to its own stderr, so they reach the same terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

MARK = " ttscale.progress: "


def relay(logfile: str | Path | None, offset: int, out: TextIO | None = None) -> int:
    """Write the progress lines added to `logfile` since byte `offset` to `out` (stderr); return the
    offset after the last complete line read."""
    if not logfile:
        return offset
    try:
        with open(logfile, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return offset
    end = data.rfind(b"\n") + 1  # a line still being written waits for the next call
    if end <= 0:
        return offset
    out = out or sys.stderr
    for line in data[:end].decode("utf-8", "replace").splitlines():
        if MARK in line:
            out.write(line + "\n")
    out.flush()
    return offset + end


def log_size(logfile: str | Path | None) -> int:
    """Where relaying starts: the log file's current end (earlier runs' lines are not repeated)."""
    try:
        return Path(logfile).stat().st_size if logfile else 0
    except OSError:
        return 0
