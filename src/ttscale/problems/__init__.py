"""The problems stage: dataset loaders, problem selection and the problem table."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from ttscale.config import register_check, resolve_path
from ttscale.errors import ConfigError, DataError
from ttscale.io import write_table
from ttscale.problems.base import Loader, Problem
from ttscale.problems.huggingface import HuggingFaceLoader
from ttscale.problems.human_eval import HumanEvalLoader
from ttscale.problems.local import JsonlLoader, ParquetLoader
from ttscale.problems.prompts import few_shot_examples, render_problem
from ttscale.problems.rgym import ReasoningGymLoader
from ttscale.problems.swebench import SWEbenchLoader
from ttscale.registry import Registry
from ttscale.schemas import PROBLEMS

log = logging.getLogger(__name__)

LOADERS: Registry[type[Loader]] = Registry("dataset loader")
LOADERS.register("human_eval")(HumanEvalLoader)
LOADERS.register("reasoning_gym")(ReasoningGymLoader)
LOADERS.register("jsonl")(JsonlLoader)
LOADERS.register("parquet")(ParquetLoader)
LOADERS.register("huggingface")(HuggingFaceLoader)
LOADERS.register("swebench")(SWEbenchLoader)

__all__ = ["LOADERS", "Loader", "Problem", "build_problems", "make_loader", "planned_count"]


@register_check("datasets", __name__)
def check_datasets(config: dict[str, Any], source: str, root: Path) -> None:
    """Every dataset names a known loader, and its few-shot files (its own, its models') exist."""
    for name, ds in config["datasets"].items():
        LOADERS.get(ds["loader"], f"{source}: datasets.{name}.loader")
        few = ds["prompt"].get("few_shot_file")
        if few and not resolve_path(few, root).exists():
            raise ConfigError(f"{source}: datasets.{name}.prompt.few_shot_file: {few} does not exist")
        for model, own in (ds.get("per_model") or {}).items():
            few = ((own or {}).get("prompt") or {}).get("few_shot_file")
            if few and not resolve_path(few, root).exists():
                raise ConfigError(f"{source}: datasets.{name}.per_model.{model}.prompt.few_shot_file: {few} "
                                  f"does not exist")


def make_loader(name: str, spec: dict[str, Any], root: Path | None = None) -> Loader:
    cls = LOADERS.get(spec["loader"], f"datasets.{name}.loader")
    return cls(name, spec.get("args") or {}, root or Path.cwd())


def planned_count(name: str, spec: dict[str, Any], root: Path | None = None) -> int:
    """How many problems the dataset contributes, known without loading it where possible."""
    if spec.get("ids"):
        return len(spec["ids"])
    loader = make_loader(name, spec, root)
    limit = spec.get("limit")
    if limit and not loader.cheap_size:
        return int(limit)
    size = loader.size()
    if size is None:
        if limit is None:
            raise ConfigError(f"datasets.{name}: the loader cannot tell its size; set `limit`")
        return int(limit)
    return min(size, limit) if limit else size


def select(problems: list[Problem], name: str, spec: dict[str, Any]) -> list[Problem]:
    """Explicit ids in their given order, else the first `limit` in the dataset's own order."""
    by_id: dict[str, Problem] = {}
    for p in problems:
        if p.problem_id in by_id:
            raise DataError(f"datasets.{name}: problem id {p.problem_id!r} occurs twice")
        by_id[p.problem_id] = p
    if spec.get("ids"):
        missing = [i for i in spec["ids"] if i not in by_id]
        if missing:
            raise ConfigError(f"datasets.{name}.ids: not in the dataset: {missing[:5]}")
        return [by_id[i] for i in spec["ids"]]
    limit = spec.get("limit")
    return problems[:limit] if limit else problems


def build_problems(name: str, spec: dict[str, Any], root: Path | None = None) -> pa.Table:
    """Load, select and render one dataset into a table with the PROBLEMS schema."""
    root = root or Path.cwd()
    loader = make_loader(name, spec, root)
    selected = select(list(loader.load()), name, spec)
    expected = planned_count(name, spec, root)
    if spec.get("limit") and len(selected) < spec["limit"] and not spec.get("ids"):
        raise DataError(
            f"datasets.{name}: limit is {spec['limit']} but the dataset has only {len(selected)} problems"
        )
    if len(selected) != expected:
        raise DataError(f"datasets.{name}: planned {expected} problems but loaded {len(selected)}")
    task = spec.get("task") or loader.default_task()
    prompt = spec.get("prompt") or {}
    examples = few_shot_examples(prompt, root)
    rows = []
    for pos, p in enumerate(selected):
        fields = {k: v for k, v in asdict(p).items() if k != "metadata"}
        rows.append(
            {
                **fields,
                **render_problem(fields, prompt, examples, f"datasets.{name}.prompt"),
                "position": pos,
                "dataset": name,
                "task": task,
                "prompt_mode": prompt.get("mode", "chat"),
                "stop": list(prompt.get("stop") or []),
                "metadata": json.dumps(p.metadata, sort_keys=True, default=str),
            }
        )
    return pa.Table.from_pylist(rows, schema=PROBLEMS)


def write_problems(name: str, spec: dict[str, Any], output: str | Path, root: Path | None = None) -> int:
    """The problems stage: build a dataset's problem table and write it atomically; returns its rows."""
    table = build_problems(name, spec, root)
    write_table(output, table, PROBLEMS, metadata={"dataset": name, "loader": spec["loader"]})
    log.info("wrote %s: %d problems", output, table.num_rows)
    return table.num_rows
