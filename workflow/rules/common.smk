# Config validation, planning helpers and wildcard constraints shared by every stage.
# The planning logic lives in ttscale.plan; this file only adapts it to Snakemake.

import sys
from pathlib import Path

import numpy as np

from snakemake.utils import validate

# The package is installed into the project's .venv (pip install -e .); a bare checkout works too.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from ttscale import config as tconfig  # noqa: E402
from ttscale import keys as tkeys  # noqa: E402
from ttscale import plan as tplan  # noqa: E402
from ttscale import resources as tres  # noqa: E402
from ttscale import blocks as tblocks  # noqa: E402
from ttscale.blocks import BLOCK_PATTERN  # noqa: E402
from ttscale.errors import TtscaleError  # noqa: E402
from ttscale.verify import extended as textended  # noqa: E402
from ttscale.warm import note as warm_note  # noqa: E402


validate(config, schema="../schemas/config.schema.yaml")
try:
    tconfig.check(config, source="config")
    tres.check_node_gpus(config)
    RUNS = tplan.runs(config)
except TtscaleError as exc:
    raise WorkflowError(f"ttscale: {exc}") from None

EXP = str(tconfig.experiment_dir(config))
LOGS = f"{EXP}/logs"
BENCH = f"{EXP}/benchmarks"
PART = "model={model}/dataset={dataset}/sampling={sampling}"
RUN_BY_KEY = {(r.model, r.dataset, r.key): r for r in RUNS}
# analysis settings; every strategy budget is a k of the curves, so best-of-N is compared at it
ANALYSIS = tplan.analysis_settings(config)
ALL_TARGETS = []

NAME = r"[A-Za-z0-9][A-Za-z0-9_.]*"


wildcard_constraints:
    model=NAME,
    dataset=NAME,
    scorer=NAME,
    sampling=NAME + r"-[0-9a-f]{8}",
    block=BLOCK_PATTERN,


def run_identities(run):
    """What the experiment-wide analysis needs to know of a run besides its tables: one entry per
    budget of a search run (its rows in the run's tables are under the budget's label), else one."""
    if run.strategy is None:
        return [{"model": run.model, "dataset": run.dataset, "sampling": run.key, "strategy": None, "budget": None}]
    return [{"model": run.model, "dataset": run.dataset, "sampling": b["label"], "strategy": run.strategy,
             "budget": b["budget"]} for b in run.labels()]


def search_budgets(wildcards):
    """A search run's budgets, their labels and first sample indices (ttscale.plan.Run.labels), or None."""
    return run_of(wildcards).labels() or None


def run_of(wildcards):
    """The planned Run of a (model, dataset, sampling) wildcard set."""
    return RUN_BY_KEY[(wildcards.model, wildcards.dataset, wildcards.sampling)]


# GPUs, CPUs and memory of each run's generate jobs (its model, and a search's step scorer) and of
# each scorer's score jobs (its engine), computed once: the rules' resource functions look them up
GENERATE_RESOURCES = {(r.model, r.dataset, r.key): tres.job_resources(tres.generate_gpus(config, r.model, r.strategy))
                      for r in RUNS}
SCORE_RESOURCES = {s: tres.job_resources(tres.scorer_gpus(config, s)) for s in config.get("scorers") or {}}


def generate_resources(wildcards):
    return GENERATE_RESOURCES[(wildcards.model, wildcards.dataset, wildcards.sampling)]


def score_resources(wildcards):
    return SCORE_RESOURCES[wildcards.scorer]


def problems_table(wildcards):
    """The dataset's problem table; ancient() so rewriting it does not invalidate blocks."""
    return ancient(f"{EXP}/problems/{wildcards.dataset}.parquet")


def built_model(wildcards):
    """The model folder a build rule makes, if the model is built (ancient, like the problems)."""
    spec = config["models"][wildcards.model]
    return [ancient(spec["path"])] if spec.get("build") else []


def scorer_model(wildcards):
    """The folder a build rule makes for a scorer's model, if it is built (ancient)."""
    return [ancient(p) for p in tplan.scorer_model_dirs(config, wildcards.scorer)]


def stage_shards(stage, run, scorer=None):
    return tplan.shards(config, stage, run, scorer)


# run identity -> the guide whose scores of a beam or DVTS run are the search's own step scores
# (tplan.search_scorer; it has no score job for the run), or None
SEARCH_SCORER = {(r.model, r.dataset, r.key): tplan.search_scorer(config, r) for r in RUNS}
# run identity -> the configured scorers whose score jobs score it (no `scorers:` -> none)
RUN_SCORERS = {(r.model, r.dataset, r.key): tplan.run_scorers(config, r) for r in RUNS}


def run_scorers(wildcards):
    """The configured scorers whose score jobs score this run."""
    return RUN_SCORERS[(wildcards.model, wildcards.dataset, wildcards.sampling)]


def search_scorer(wildcards):
    """The guide whose scores of this search run come from its sample shards, or None."""
    return SEARCH_SCORER[(wildcards.model, wildcards.dataset, wildcards.sampling)]


def analysis_scorers(wildcards):
    """The model-based scorers of a run and what the cost model reads of them (their FLOPs columns)."""
    specs = {s: tkeys.scorer_cost_spec(config, s) for s in run_scorers(wildcards)}
    return tkeys.canonical({s: v for s, v in specs.items() if v is not None})


def analysis_step_scorer(wildcards):
    """A search run's step scorer (its FLOPs while searching), or None."""
    run = run_of(wildcards)
    name = (config.get("strategies") or {}).get(run.strategy, {}).get("scorer") if run.strategy else None
    spec = tkeys.scorer_cost_spec(config, name) if name else None
    return tkeys.canonical({"name": name, "spec": spec}) if spec is not None else None


# dataset -> canonical JSON text of what decides its extended-tests table (code datasets with extended tests)
EXTENDED_IDENTITY = {d: tkeys.identity_json(textended.identity(config, d)) for d in config["datasets"]
                     if textended.enabled(config, d)}


def extended_table(wildcards):
    """The dataset's extended-tests table for verify (ancient, like the problem table), if it has one."""
    if wildcards.dataset in EXTENDED_IDENTITY:
        return ancient(f"{EXP}/extended/{wildcards.dataset}.parquet")
    return []


onstart:
    print(f"ttscale: experiment {config['experiment']}: {len(RUNS)} runs, results in {EXP}/, logs in {LOGS}/")


onsuccess:
    print(f"ttscale: done; results in {EXP}/, logs in {LOGS}/")
    if note := warm_note(Path.cwd()):
        print(note)


onerror:
    print(f"ttscale: failed; see the log named above, or the logs in {LOGS}/")
