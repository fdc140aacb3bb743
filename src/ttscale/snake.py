"""The adapter between Snakemake's `script:` entry points and the package.

Entry points in workflow/scripts/ call `run_script`, which sends logging to the job's log file,
turns the user-facing errors into one clear line (no traceback), logs any other error with its
traceback (so the job's log file shows it too), and times the call. `write_identity` writes the
rules' identity files (docs/architecture.md, "Rerun rules").
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from functools import partial
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


def run_script(snakemake: Any, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """Call fn(**kwargs) inside a Snakemake job with logging to its log file.

    A job whose rule has the resource `warm_s` (profiles/local sets it for the engine rules) sends
    the call to the folder's warm worker instead (ttscale.warm), which keeps engines between jobs.
    """
    logfile = snakemake.log[0] if len(snakemake.log) else None
    wildcards = dict(snakemake.wildcards.items())
    from ttscale import warm

    setup_logging(None)
    try:
        keep_alive = warm.keep_alive(getattr(getattr(snakemake, "resources", None), "warm_s", 0))
        if keep_alive:
            return warm.call(Path.cwd(), fn, kwargs, logfile=logfile, rule=snakemake.rule,
                             wildcards=wildcards, keep_alive=keep_alive)
    except TtscaleError as exc:
        logging.getLogger("ttscale").error("%s", exc)
        sys.exit(1)
    try:
        return run_logged(partial(fn, **kwargs), logfile=logfile, rule=snakemake.rule, wildcards=wildcards)
    except TtscaleError:
        sys.exit(1)  # logged by run_logged


def write_identity(path: str | Path, text: str, log: str | Path | None = None) -> None:
    """Write an identity file (workflow/rules/verify.smk, rule identity) atomically."""
    out = Path(path)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(f"{text}\n", encoding="utf-8")
    tmp.replace(out)
    if log:
        Path(log).write_text(f"wrote {out}\n", encoding="utf-8")
