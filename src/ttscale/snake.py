"""The adapter between Snakemake's `script:` entry points and the package.

Entry points in workflow/scripts/ call `run_script`, which sends logging to the job's log file,
turns the user-facing errors into one clear line (no traceback), logs any other error with its
traceback (so the job's log file shows it too), and times the call. `write_identity` writes the
rules' identity files (docs/architecture.md, "Rerun rules").
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ttscale.errors import TtscaleError
from ttscale.joblog import run_logged, setup_logging


def run_script(snakemake: Any, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """Call fn(**kwargs) inside a Snakemake job with logging to its log file.

    A job whose rule has the resource `warm_s` (profiles/local sets it for the engine rules) sends
    the call to the folder's warm worker instead (ttscale.warm), which keeps engines between jobs.
    """
    logfile = snakemake.log[0] if len(snakemake.log) else None
    wildcards = dict(snakemake.wildcards.items())
    # imported here: the warm worker runs ttscale.warm as __main__, and a second copy of the module
    # would register its subcommand twice
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
    """Write an identity file (workflow/rules/identity.smk) atomically."""
    out = Path(path)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(f"{text}\n", encoding="utf-8")
    tmp.replace(out)
    if log:
        Path(log).write_text(f"wrote {out}\n", encoding="utf-8")
