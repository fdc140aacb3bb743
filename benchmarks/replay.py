"""Ours against a bare replay of the engine calls we make: the harness of the search and budget benchmarks.

A strategy runs with its engine methods wrapped by recorders; then exactly the recorded calls are
replayed bare on the same engines, from an empty prefix cache, alternating with the strategy for
several rounds. The difference is the strategy's own bookkeeping, also measured directly as its time
outside the recorded calls.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttscale.generate import BACKENDS
from ttscale.io import read_table, write_table
from ttscale.models.build import build
from ttscale.problems import build_problems
from ttscale.schemas import PROBLEMS
from ttscale.search.strategies import SearchProblem


class Recorder:
    """Wraps an engine method, records its arguments and the time spent inside it."""

    def __init__(self, fn: Callable[..., Any]):
        self.fn, self.calls, self.seconds = fn, [], 0.0

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        start = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def ensure_models(models: Path, builders: dict[str, str]) -> None:
    """Build the embedded models the benchmark needs (folder name -> builder) unless present."""
    for name, builder in builders.items():
        if not (models / name / "config.json").exists():
            build(builder, models / name)


def search_problems(config: dict[str, Any], model: str, dataset: str, tmp: Path) -> tuple[Any, list[SearchProblem]]:
    """The dataset's problems rendered for `model`, and its vLLM backend (seed 0)."""
    write_table(tmp / "p.parquet", build_problems(dataset, config["datasets"][dataset], tmp), PROBLEMS)
    rows = read_table(tmp / "p.parquet", PROBLEMS).to_pylist()
    backend = BACKENDS.get("vllm")(model, config["models"][model], tmp, seed=0)
    return backend, [SearchProblem(r["problem_id"], r["question"], *backend.render(r)[::2], r) for r in rows]


@dataclass
class Rounds:
    ours: float  # medians over the rounds, seconds
    bare: float
    bookkeeping: float


def alternate(run: Callable[[], Any], methods: list[tuple[Any, str]], engines: list[Any], repeats: int,
              report: Callable[..., None]) -> Rounds:
    """`repeats` rounds of `run()` with `methods` (object, attribute) recorded, each followed by the bare
    replay of its calls; every engine's prefix cache is emptied before either side.
    `report(round, out, recorders, ours_s, inside_s, bare_s_per_recorder)` prints a round."""
    recs = [Recorder(getattr(obj, attr)) for obj, attr in methods]
    ours_t, bare_t, inside_t = [], [], []
    for r in range(repeats):  # alternating, so neither side always runs on the warmer engine
        for (obj, attr), rec in zip(methods, recs, strict=True):
            setattr(obj, attr, rec)
            rec.calls, rec.seconds = [], 0.0
        for engine in engines:
            engine.reset_prefix_cache()
        start = time.perf_counter()
        out = run()
        ours_t.append(time.perf_counter() - start)
        inside_t.append(sum(rec.seconds for rec in recs))
        for (obj, attr), rec in zip(methods, recs, strict=True):
            setattr(obj, attr, rec.fn)
        for engine in engines:
            engine.reset_prefix_cache()
        bare = []
        for rec in recs:
            start = time.perf_counter()
            for a, kw in rec.calls:
                rec.fn(*a, **kw)
            bare.append(time.perf_counter() - start)
        bare_t.append(sum(bare))
        report(r, out, recs, ours_t[-1], inside_t[-1], bare)
    return Rounds(statistics.median(ours_t), statistics.median(bare_t),
                  statistics.median([o - i for o, i in zip(ours_t, inside_t, strict=True)]))
