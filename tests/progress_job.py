"""A job that logs progress while it works; the warm worker imports it by name (tests/test_console.py)."""

from __future__ import annotations

import time

from ttscale.generate.progress import Progress


def slow_job(steps: int, pause: float) -> None:
    progress = Progress(steps, "items", interval=0.0)
    for _ in range(steps):
        time.sleep(pause)
        progress.update(1, tokens=10)
