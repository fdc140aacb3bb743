"""One job's run with its log file: shared by jobs in their own process (ttscale.snake) and jobs
in the warm worker (ttscale.warm), so that neither imports the other's module."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ttscale.errors import TtscaleError


def setup_logging(logfile: str | None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if logfile:
        Path(logfile).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(logfile, mode="a", encoding="utf-8"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )


def run_logged(call: Callable[[], Any], *, logfile: str | None, rule: str, wildcards: dict[str, str],
               where: str = "") -> Any:
    """Run call() as the job `rule` with logging to its log file: a user error (TtscaleError) is
    logged as one line, any other error with its traceback, and both are raised again. Shared by
    jobs that run in their own process and jobs that run in the warm worker (`where` says which)."""
    setup_logging(logfile)
    log = logging.getLogger("ttscale")
    log.info("rule %s, wildcards %s%s", rule, wildcards, where)
    start = time.time()
    try:
        result = call()
    except TtscaleError as exc:
        log.error("%s", exc)
        raise
    except Exception:
        # a bug, not a user error: its traceback belongs in the job's log file, not only Snakemake's stderr
        log.exception("rule %s failed", rule)
        raise
    log.info("done in %.1fs", time.time() - start)
    return result
