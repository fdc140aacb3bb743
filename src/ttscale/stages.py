"""Small stage functions that glue a library call to its output file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ttscale.io import write_table
from ttscale.problems import build_problems
from ttscale.schemas import PROBLEMS

log = logging.getLogger(__name__)


def write_problems(name: str, spec: dict[str, Any], output: str | Path, root: Path | None = None) -> int:
    table = build_problems(name, spec, root)
    write_table(output, table, PROBLEMS, metadata={"dataset": name, "loader": spec["loader"]})
    log.info("wrote %s: %d problems", output, table.num_rows)
    return table.num_rows
