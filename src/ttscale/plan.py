"""What the workflow must produce for a config: runs, blocks and their paths.

common.smk calls these functions to build Snakemake's targets, so planning is unit-testable
without Snakemake and costs one pass over the config (plus each loader's cheap size()).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# every stage registers the config checks of its section on import (ttscale.config.check)
import ttscale.generate
import ttscale.models.build
import ttscale.score
import ttscale.search
import ttscale.verify  # noqa: F401
from ttscale.analysis.rounds import round_blocks, round_ends, settings_of
from ttscale.blocks import Block, plan_blocks
from ttscale.config import experiment_dir
from ttscale.errors import DataError
from ttscale.keys import budget_label, fingerprint, sampling_key, strategy_key, strategy_preset
from ttscale.models.families import model_spec, resolve
from ttscale.problems import LOADERS, planned_count
from ttscale.problems.local import JsonlLoader
from ttscale.score.base import DEFAULT_AGGREGATION


@dataclass(frozen=True)
class Run:
    """One (model, dataset, sampling preset) combination and its blocks."""

    model: str
    dataset: str
    preset: str
    key: str
    n_problems: int
    samples_per_problem: int
    blocks: tuple[Block, ...] = field(repr=False)
    strategy: str | None = None  # a search strategy of the config; None for repeated sampling
    # a search run's budgets N, ascending: its answers per problem are the searches at each budget in
    # turn (samples_per_problem is their sum), one block holds all of a problem's answers
    budgets: tuple[int, ...] | None = None
    # adaptive mode (datasets.<d>.adaptive): the rounds' cumulative sample counts; `blocks` then
    # holds round 0 only, later rounds follow from the decisions (ttscale.analysis.rounds)
    ends: tuple[int, ...] | None = None

    @property
    def n_samples(self) -> int:
        return self.n_problems * self.samples_per_problem

    def partition(self) -> str:
        return f"model={self.model}/dataset={self.dataset}/sampling={self.key}"

    def labels(self) -> list[dict[str, Any]]:
        """A search run's budgets: each budget N, the `sampling` of its rows in the run's tables
        (`<strategy>.n<N>-<hash8>`) and the sample index of its first answer; empty for other runs."""
        out, first = [], 0
        for n in self.budgets or ():
            out.append({"budget": n, "label": budget_label(self.key, n), "first": first})
            first += n
        return out


_COUNTS: dict[tuple[str, str, str], int] = {}


def problem_count(name: str, spec: dict[str, Any], root: Path) -> int:
    """The dataset's planned problem count, cached per process (loaders' size() may read files)."""
    items = {k: spec[k] for k in ("loader", "args", "limit", "ids") if k in spec}
    key = (name, fingerprint(items, 16), str(root))
    if key not in _COUNTS:
        _COUNTS[key] = planned_count(name, spec, root)
    return _COUNTS[key]


def runs(config: dict[str, Any], root: Path | None = None) -> list[Run]:
    root = root or Path.cwd()
    check_per_model(config)
    out = []
    for dname, ds in config["datasets"].items():
        n_problems = problem_count(dname, ds, root)
        adaptive = settings_of(config, dname)
        grids: dict[int, tuple[Block, ...]] = {}
        for model in ds.get("models") or config["models"]:
            samples = samples_per_problem(config, dname, model)
            ends = None
            if adaptive is not None:  # only round 0 is known before the run; the rest: adaptive.smk
                ends = tuple(int(e) for e in round_ends(adaptive, samples))
                grids.setdefault(-samples, tuple(round_blocks(np.array(ends), 0, n_problems, config["block_size"],
                                                              config["problems_per_block"])))
            elif samples not in grids:
                grids[samples] = tuple(plan_blocks(n_problems, samples, config["block_size"],
                                                   config["problems_per_block"]))
            blocks = grids[-samples if adaptive is not None else samples]
            for preset in ds.get("sampling") or config["sampling"]:
                key = sampling_key(config, model, dname, preset, root)
                out.append(Run(model, dname, preset, key, n_problems, samples, blocks, ends=ends))
    out += strategy_runs(config, root)
    return out


def samples_per_problem(config: dict[str, Any], dataset: str, model: str) -> int:
    """A model's samples per problem on a dataset: `datasets.<d>.per_model.<m>`, else the dataset's,
    else the experiment's."""
    ds = config["datasets"][dataset]
    own = (ds.get("per_model") or {}).get(model) or {}
    return own.get("samples_per_problem") or ds.get("samples_per_problem") or config["samples_per_problem"]


def check_per_model(config: dict[str, Any]) -> None:
    """`datasets.<d>.per_model` names models the dataset runs."""
    from ttscale.errors import ConfigError

    for dname, ds in config["datasets"].items():
        runs_models = ds.get("models") or list(config["models"])
        for model in ds.get("per_model") or {}:
            if model not in runs_models:
                raise ConfigError(f"datasets.{dname}.per_model.{model}: not a model this dataset runs "
                                  f"(its models: {', '.join(runs_models)})")


def strategy_runs(config: dict[str, Any], root: Path) -> list[Run]:
    """One run per strategy x model x dataset, spanning the strategy's budgets; a block holds all the
    answers of its problems at every budget (a search cannot be split across blocks, and one job per
    block rather than per budget keeps a paper config's job count down: docs/cluster.md)."""
    out = []
    for name, spec in (config.get("strategies") or {}).items():
        budgets = tuple(sorted({int(b) for b in spec["budgets"]}))
        total = sum(budgets)
        for dname, ds in config["datasets"].items():
            if spec.get("datasets") and dname not in spec["datasets"]:
                continue
            n_problems = problem_count(dname, ds, root)
            blocks = tuple(plan_blocks(n_problems, total, total, config["problems_per_block"]))
            for model in spec.get("models") or ds.get("models") or config["models"]:
                key = strategy_key(config, model, dname, name, budgets, root)
                out.append(Run(model, dname, strategy_preset(config, name), key, n_problems, total, blocks,
                               name, budgets))
    return out


def find_run(config: dict[str, Any], model: str, dataset: str, key: str, root: Path | None = None) -> Run:
    """The planned run behind a (model, dataset, sampling key) of a path."""
    for r in runs(config, root):
        if (r.model, r.dataset, r.key) == (model, dataset, key):
            return r
    raise DataError(f"no run of the current config has model {model}, dataset {dataset} and key {key}; "
                    f"the workflow plans paths from the config, so the config changed since")


def shard(config: dict[str, Any], stage: str, run: Run, block: Block, scorer: str | None = None) -> str:
    """Path of one block's file of `stage` (samples, verdicts, scores)."""
    base = experiment_dir(config) / stage
    if scorer is not None:
        base = base / f"scorer={scorer}"
    return str(base / run.partition() / f"{block.name}.parquet")


def shards(config: dict[str, Any], stage: str, run: Run, scorer: str | None = None) -> list[str]:
    return [shard(config, stage, run, b, scorer) for b in run.blocks]


def identity_file(config: dict[str, Any], stage: str, name: str) -> str:
    """`R/identity/<stage>/<name>.json`: the identity of a stage's jobs as a file (see ids_file)."""
    return str(experiment_dir(config) / "identity" / stage / f"{name}.json")


def ids_file(config: dict[str, Any], dataset: str, block: str) -> list[str]:
    """The file that lists the problem ids at a block's positions, for a dataset that lists its
    `ids` (none for other datasets: their positions are the dataset's own first problems, which the
    dataset's identity in the sampling key already fixes).

    Replacing or reordering ids keeps a block's name and key, so this file is what reruns exactly
    the blocks whose problems changed. It is an input, not a param: the problem table is rebuilt in
    the same run, and Snakemake checks no param of a job downstream of a job it reruns when their
    link is ancient() (as the problem table is for the per-block stages).
    """
    if not config["datasets"][dataset].get("ids"):
        return []
    return [str(experiment_dir(config) / "identity" / "ids" / dataset / f"{Block.parse(block).positions}.json")]


def block_ids(config: dict[str, Any], dataset: str, positions: str) -> list[str]:
    """The ids at positions `p<p0>-<p1>` (Block.positions) of a dataset's `ids`."""
    p0, p1 = Block.parse_positions(positions)
    return list(config["datasets"][dataset]["ids"][p0:p1])


def dataset_files(config: dict[str, Any], dataset: str) -> list[str]:
    """The local files a dataset's problem table is built from (inputs of the problems stage): the
    few-shot file and the data file of a jsonl or parquet loader."""
    ds = config["datasets"][dataset]
    files = []
    few = (ds.get("prompt") or {}).get("few_shot_file")
    if few:
        files.append(os.path.expanduser(few))
    cls = LOADERS.get(ds["loader"], f"datasets.{dataset}.loader")
    path = (ds.get("args") or {}).get("path")
    if issubclass(cls, JsonlLoader) and path:
        files.append(os.path.expanduser(str(path)))
    for key in getattr(cls, "jsonl_args", ()):  # loaders that read a .jsonl or a hub dataset (swebench)
        value = str((ds.get("args") or {}).get(key) or "")
        if value.endswith(".jsonl"):
            files.append(os.path.expanduser(value))
    return files


def model_free_scorers(config: dict[str, Any]) -> list[str]:
    """Scorers that load no model (kind logprob): their jobs need no GPU."""
    return sorted(n for n, s in (config.get("scorers") or {}).items() if resolve(s).get("kind") == "logprob")


def built_models(config: dict[str, Any]) -> dict[str, str]:
    """path -> builder for every model the workflow must build (sampled models and scorers)."""
    out = {m["path"]: m["build"] for m in config["models"].values() if m.get("build")}
    for name, raw in (config.get("scorers") or {}).items():
        spec = resolve(raw)
        if spec.get("kind") != "logprob" and not spec.get("model"):
            m = model_spec(name, spec, config)
            if m.get("build"):
                out[m["path"]] = m["build"]
    return out


def scorer_model_dirs(config: dict[str, Any], scorer: str) -> list[str]:
    """The built model folder a scorer's jobs need (empty when it needs none or it is not built)."""
    spec = resolve(config["scorers"][scorer])
    if spec.get("kind") == "logprob":
        return []
    m = model_spec(scorer, spec, config)
    return [m["path"]] if m.get("build") else []


def scores_run(spec: dict[str, Any], run: Run) -> bool:
    """Whether a scorer (its config) scores a run: its `datasets`, `models`, `strategies` and `sampling`."""
    if spec.get("datasets") and run.dataset not in spec["datasets"]:
        return False
    if spec.get("models") and run.model not in spec["models"]:
        return False
    if run.strategy is None:
        return spec.get("sampling", True)
    return spec.get("strategies") is None or run.strategy in spec["strategies"]


# search kinds whose every answer carries its guiding scorer's score of each of its steps (ttscale.search):
# lookahead's last step holds a rollout's value instead, and revisions are not guided step by step
GUIDE_SCORED = ("beam", "dvts")


def search_scorer(config: dict[str, Any], run: Run) -> dict[str, str] | None:
    """The scorer whose scores of a search run are the step scores the search itself recorded, or None.

    A beam search or DVTS scores every step of every answer with its guide while it searches, so a
    score job of the guide over the finished answers would only recompute them (a PRM pass over every
    answer of every search: the papers' code selects a search's answers by the search's own scores).
    For such a run and a process-scorer guide that the config has score it, the analyze job takes the
    guide's score columns from the sample shards (`aggregate_run(search_scorer=...)`) and no score job
    is planned: {"name": the scorer, "aggregation": its `score`'s step aggregation}."""
    if run.strategy is None:
        return None
    strategy = (config.get("strategies") or {}).get(run.strategy) or {}
    name = strategy.get("scorer")
    if strategy.get("kind") not in GUIDE_SCORED or name not in (config.get("scorers") or {}):
        return None
    spec = resolve(config["scorers"][name])
    if spec.get("kind") != "process" or not scores_run(config["scorers"][name], run):
        return None
    return {"name": name, "aggregation": spec.get("aggregation") or DEFAULT_AGGREGATION}


def run_scorers(config: dict[str, Any], run: Run) -> list[str]:
    """The scorers whose score jobs score a run: those that score it (`scores_run`), less a search's
    guide whose step scores stand for its scores (`search_scorer`)."""
    guide = (search_scorer(config, run) or {}).get("name")
    return [s for s in sorted(config.get("scorers") or {}) if s != guide and scores_run(config["scorers"][s], run)]


def scored_runs(config: dict[str, Any], all_runs: list[Run], scorer: str) -> list[Run]:
    """The runs a scorer's score jobs score (`run_scorers`)."""
    return [r for r in all_runs if scorer in run_scorers(config, r)]


def analysis_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The config's `analysis:` with every strategy budget added to `ks`, so best-of-N has a value at
    each budget a search strategy is compared at."""
    st = dict(config.get("analysis") or {})
    budgets = {int(b) for spec in (config.get("strategies") or {}).values() for b in spec.get("budgets", [])}
    if budgets:
        st["ks"] = sorted({int(k) for k in st.get("ks") or []} | budgets)
    return st
