"""Hugging Face datasets by name, split and revision, or from a local dataset folder.

Compute nodes are usually offline, so by default the loader runs with HF_HUB_OFFLINE and
HF_DATASETS_OFFLINE set and only reads the local cache or a local folder; a dataset that is not
there is a ConfigError that says how to make it available. `args.offline: false` allows downloads
(on a node with internet).

Presets map the columns of well-known datasets; `columns` maps any other dataset.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ttscale.errors import ConfigError
from ttscale.problems.base import Loader, Problem
from ttscale.problems.columns import map_rows
from ttscale.registry import Registry

PRESETS: Registry[Callable[[int, dict[str, Any]], Problem]] = Registry("huggingface preset")
PRESET_TASKS = {"math500": "math", "gsm8k": "math", "code_contests": "code", "apps": "code"}


@PRESETS.register("math500")
def _math500(i: int, row: dict[str, Any]) -> Problem:
    return Problem(
        problem_id=str(row.get("unique_id") or i),
        question=row["problem"],
        answer=str(row["answer"]),
        solution=row.get("solution"),
        level=None if row.get("level") is None else str(row["level"]),
        metadata={"subject": row.get("subject")},
    )


@PRESETS.register("gsm8k")
def _gsm8k(i: int, row: dict[str, Any]) -> Problem:
    answer = row["answer"].split("####")[-1].strip().replace(",", "")
    return Problem(problem_id=str(i), question=row["question"], answer=answer, solution=row["answer"])


def _stdio_tests(*groups: dict[str, Any] | None) -> str:
    cases = []
    for g in groups:
        if g:
            cases += [{"input": a, "output": b} for a, b in zip(g["input"], g["output"], strict=True)]
    return json.dumps(cases)


@PRESETS.register("code_contests")
def _code_contests(i: int, row: dict[str, Any]) -> Problem:
    return Problem(
        problem_id=row.get("name") or str(i),
        question=row["description"],
        tests=_stdio_tests(row.get("public_tests"), row.get("private_tests"), row.get("generated_tests")),
        test_style="stdio",
        level=None if row.get("difficulty") is None else str(row["difficulty"]),
        metadata={"source": row.get("source"), "cf_rating": row.get("cf_rating")},
    )


@PRESETS.register("apps")
def _apps(i: int, row: dict[str, Any]) -> Problem:
    io = json.loads(row["input_output"]) if row.get("input_output") else {"inputs": [], "outputs": []}
    tests = [{"input": a, "output": b} for a, b in zip(io.get("inputs", []), io.get("outputs", []), strict=False)]
    return Problem(
        problem_id=str(row.get("problem_id", i)),
        question=row["question"],
        tests=json.dumps(tests),
        test_style="stdio",
        level=row.get("difficulty"),
    )


class HuggingFaceLoader(Loader):
    """args: path (hub name or local folder), name, split, revision, preset | columns, offline."""

    required_args = ("path",)
    cheap_size = False

    def default_task(self) -> str:
        return self.args.get("task") or PRESET_TASKS.get(self.args.get("preset", ""), "other")

    def _describe(self) -> str:
        a = self.args
        parts = [repr(a["path"])] + [f"{k}={a[k]!r}" for k in ("name", "split", "revision") if a.get(k)]
        return " ".join(parts)

    def _dataset(self):
        offline = self.args.get("offline", True)
        if offline:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["HF_DATASETS_OFFLINE"] = "1"
        import datasets
        import huggingface_hub.constants

        if offline:  # the libraries read these at import; they may have been imported already
            datasets.config.HF_HUB_OFFLINE = True
            huggingface_hub.constants.HF_HUB_OFFLINE = True

        path = str(self.args["path"])
        local = Path(path).expanduser()
        local = local if local.is_absolute() else self.root / local
        target = str(local) if local.exists() else path
        try:
            if local.exists() and (local / "dataset_info.json").exists():
                ds = datasets.load_from_disk(target)  # a save_to_disk folder (Dataset or DatasetDict)
                if isinstance(ds, datasets.DatasetDict):
                    ds = ds[self.args.get("split", "test")]
                return ds
            return datasets.load_dataset(
                target,
                self.args.get("name"),
                split=self.args.get("split", "test"),
                revision=self.args.get("revision"),
            )
        except Exception as exc:  # datasets raises many types for "not available offline"
            if re.search(r"offline|connect|couldn't find|doesn't exist|not found|cannot find", str(exc), re.I):
                raise ConfigError(
                    f"datasets.{self.name}: Hugging Face dataset {self._describe()} is not available "
                    f"offline ({type(exc).__name__}: {str(exc).splitlines()[0]}). Download it on a "
                    f"machine with internet (`hf download {path} --repo-type dataset` or "
                    f"`datasets.load_dataset(...)`), then point HF_HOME / HF_DATASETS_CACHE at that "
                    f"cache on this machine, or set args.path to a local folder of data files."
                ) from None
            raise

    def size(self) -> int:
        return len(self._dataset())

    def load(self) -> Iterator[Problem]:
        ds = self._dataset()
        preset = self.args.get("preset")
        if preset:
            fn = PRESETS.get(preset, f"datasets.{self.name}.args.preset")
            for i, row in enumerate(ds):
                yield fn(i, row)
        else:
            yield from map_rows(iter(ds), self.args.get("columns", {}), f"datasets.{self.name}.args")
