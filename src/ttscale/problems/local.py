"""Local files: JSONL or Parquet with a column mapping."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pyarrow.parquet as pq

from ttscale.errors import ConfigError
from ttscale.problems.base import Loader, Problem
from ttscale.problems.columns import map_rows


class JsonlLoader(Loader):
    """args: path, columns ({field: column}), task."""

    required_args = ("path",)

    def default_task(self) -> str:
        return self.args.get("task", "other")

    def _rows(self) -> Iterator[dict]:
        path = self.path_arg()
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path}:{n}: not valid JSON ({exc.msg})") from None

    def size(self) -> int:
        path = self.path_arg()
        with open(path, encoding="utf-8") as fh:
            return sum(1 for line in fh if line.strip())

    def load(self) -> Iterator[Problem]:
        yield from map_rows(self._rows(), self.args.get("columns", {}), f"datasets.{self.name}.args")


class ParquetLoader(JsonlLoader):
    def size(self) -> int:
        return pq.ParquetFile(self.path_arg()).metadata.num_rows

    def _rows(self) -> Iterator[dict]:
        yield from pq.read_table(self.path_arg()).to_pylist()
