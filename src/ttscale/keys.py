"""Identities and keys: what decides a sample, a search run, a verdict, a score or an analysis.

Each stage's outputs live under a path or beside an identity file computed here, so every stage
imports this module rather than one another (docs/architecture.md, "Identity" and "Rerun rules").
The hash of a sampling key covers what decides a sample and nothing that only changes speed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ttscale.config import resolve_path as _resolve
from ttscale.models.families import model_spec, resolve
from ttscale.problems import LOADERS, make_loader
from ttscale.problems.prompts import model_prompt
from ttscale.reasoning import identity as reasoning_identity

# --- samples -----------------------------------------------------------------------------------

# what the engine computes with: max_model_len caps prompt + completion in vLLM (a long answer ends
# earlier), as dtype changes the numerics; the openai backend sends neither (the server decides)
MODEL_IDENTITY_KEYS = ("path", "revision", "tokenizer", "dtype", "quantization", "backend", "max_model_len")
SAMPLING_IDENTITY_KEYS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "max_tokens",
    "repetition_penalty",
    "stop",
)


def _pruned(d: dict[str, Any], keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Keep `keys` (or all), dropping empty values so that new optional keys keep old hashes."""
    items = d.items() if keys is None else ((k, d.get(k)) for k in keys)
    return {k: v for k, v in items if v not in (None, "", [], {})}


def model_identity(model: dict[str, Any]) -> dict[str, Any]:
    ident = _pruned(model, MODEL_IDENTITY_KEYS)
    thinking = reasoning_identity(model)  # the delimiters decide the shard's answer columns
    if thinking:
        ident["reasoning"] = thinking
    if model.get("backend") == "openai":
        ident.pop("max_model_len", None)
        oa = model.get("openai") or {}
        ident["openai"] = _pruned(oa, ("model", "endpoint"))
    return ident


def prompt_identity(prompt: dict[str, Any], root: Path | None = None) -> dict[str, Any]:
    ident = _pruned({k: v for k, v in prompt.items() if k != "few_shot_file"})
    few = prompt.get("few_shot_file")
    if few:
        data = _resolve(few, root or Path.cwd()).read_bytes()
        ident["few_shot_file_sha256"] = hashlib.sha256(data).hexdigest()
    return ident


def dataset_identity(ds: dict[str, Any], root: Path | None = None, model: str | None = None) -> dict[str, Any]:
    """Loader, its arguments (except those that only set how many problems) and the prompt `model`
    sees (the dataset's, with the model's `per_model.<model>.prompt` over it: an override is a new
    key for that model only)."""
    exempt = LOADERS.get(ds["loader"]).size_args if ds["loader"] in LOADERS else ()
    prompt = model_prompt(ds, model) if model is not None else ds.get("prompt") or {}
    return {
        "loader": ds["loader"],
        "args": {k: v for k, v in (ds.get("args") or {}).items() if k not in exempt},
        "prompt": prompt_identity(prompt, root),
    }


# datasets.<d>.adaptive with its defaults (the schema's): written out or not, the same key
ADAPTIVE_DEFAULTS: dict[str, Any] = {"rule": "band", "first": 8, "growth": 2.0, "successes": 1, "tolerance": 0.1,
                                     "budget": None}


def sampling_identity(
    config: dict[str, Any], model: str, dataset: str, preset: str, root: Path | None = None,
    adaptive: bool = True,
) -> dict[str, Any]:
    """Everything that decides what a sample is (see docs/architecture.md). A dataset in adaptive
    mode adds its rounds' settings and target: they decide which problems hold which samples
    (`adaptive=False` for a search, which never runs in rounds)."""
    ident = {
        "seed": config["seed"],
        "model": model_identity(config["models"][model]),
        "dataset": dataset_identity(config["datasets"][dataset], root, model),
        "sampling": _pruned(config["sampling"][preset], SAMPLING_IDENTITY_KEYS),
    }
    ds = config["datasets"][dataset]
    if adaptive and ds.get("adaptive"):
        own = ((ds.get("per_model") or {}).get(model) or {}).get("samples_per_problem")
        target = own or ds.get("samples_per_problem") or config["samples_per_problem"]
        a = {**ADAPTIVE_DEFAULTS, **ds["adaptive"]}
        # numbers in one type each, so `growth: 2` and `growth: 2.0` are one key
        a.update(first=int(a["first"]), growth=float(a["growth"]), successes=int(a["successes"]),
                 tolerance=float(a["tolerance"]), budget=None if a["budget"] is None else int(a["budget"]))
        ident["adaptive"] = {**_pruned(a), "target": int(target)}
    return ident


def fingerprint(obj: Any, n: int = 8) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:n]


def sampling_key(
    config: dict[str, Any], model: str, dataset: str, preset: str, root: Path | None = None
) -> str:
    """`<preset>-<hash8>`: the directory that holds the samples of this combination."""
    return f"{preset}-{fingerprint(sampling_identity(config, model, dataset, preset, root))}"


# which runs a scorer scores, and its engine settings: not part of what its scores mean
SCORER_SELECTION = ("engine", "datasets", "models", "strategies", "sampling")

STRATEGY_IDENTITY_KEYS = (
    "kind", "beam_width", "aggregation", "step_delimiter", "max_steps", "step_tokens", "rounds",
    "context_attempts", "revision_prompt", "thinking_budget", "min_thinking", "max_extensions", "continuation",
    "answer_prefix", "answer_tokens",
)


def strategy_preset(config: dict[str, Any], strategy: str) -> str:
    """The sampling preset a strategy's steps use (its own, or the first preset)."""
    return config["strategies"][strategy].get("sampling") or next(iter(config["sampling"]))


def strategy_identity(config: dict[str, Any], model: str, dataset: str, strategy: str,
                      budgets: list[int] | tuple[int, ...], root: Path | None = None) -> dict[str, Any]:
    """What decides a search run's answers: the sampling identity, the strategy, its scorer and the
    budgets it spans (one run holds every budget of its strategy; ttscale.plan.strategy_runs)."""
    spec = config["strategies"][strategy]
    ident = sampling_identity(config, model, dataset, strategy_preset(config, strategy), root, adaptive=False)
    ident["strategy"] = _pruned(spec, STRATEGY_IDENTITY_KEYS)
    if spec["kind"] == "lookahead":  # only its own kind carries k, so other strategies keep their keys
        ident["strategy"]["lookahead"] = 1 if spec.get("lookahead") is None else spec["lookahead"]
    ident["budgets"] = sorted(int(b) for b in budgets)
    if spec.get("scorer"):
        scorer = resolve(config["scorers"][spec["scorer"]])
        ident["scorer"] = _pruned({k: v for k, v in scorer.items() if k not in SCORER_SELECTION})
    return ident


def search_identity(ident: dict[str, Any]) -> str:
    """The fingerprint of a search run's identity without its budgets: two runs that agree on it give
    the same answers at every budget both hold (a budget's seeds do not depend on the others), so a
    run whose budgets changed takes the answers of the budgets it shares from the old run's shards."""
    return fingerprint({k: v for k, v in ident.items() if k != "budgets"}, 16)


def strategy_key(config: dict[str, Any], model: str, dataset: str, strategy: str,
                 budgets: list[int] | tuple[int, ...], root: Path | None = None) -> str:
    """`<strategy>-<hash8>`: the directory of a search run's answers at all of its budgets."""
    return f"{strategy}-{fingerprint(strategy_identity(config, model, dataset, strategy, budgets, root))}"


def budget_label(key: str, budget: int) -> str:
    """`<strategy>.n<N>-<hash8>`: the `sampling` of one budget's rows in a search run's tables (the
    run's folder is `key`, `<strategy>-<hash8>`)."""
    strategy, _, digest = key.rpartition("-")
    return f"{strategy}.n{int(budget)}-{digest}"


def label_key(label: str) -> tuple[str, int] | None:
    """The search run's key and the budget of a `budget_label`, or None for another sampling."""
    head, _, digest = label.rpartition("-")
    strategy, sep, budget = head.rpartition(".n")
    if not sep or not budget.isdigit() or not strategy or len(digest) != 8 or \
            digest.strip("0123456789abcdef"):
        return None
    return f"{strategy}-{digest}", int(budget)


# --- what decides each stage's reruns ----------------------------------------------------------
#
# Snakemake reruns a job when the repr of one of its params changes, so a param (or an identity file
# the workflow writes from one; docs/architecture.md, "Rerun rules") must hold exactly what decides
# the job's output, in one canonical form: dicts with sorted keys (the order keys are written in is
# not a change; validation has filled every default, so writing one out is not either). Speed and
# placement settings stay out; the scripts read them from the config.


def canonical(obj: Any) -> Any:
    """A copy with the keys of every dict sorted, recursively (its repr no longer depends on order)."""
    if isinstance(obj, dict):
        return {k: canonical(obj[k]) for k in sorted(obj, key=str)}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    return obj


def identity_json(obj: Any) -> str:
    """The canonical text of an identity: the value of a param that only decides reruns."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


# dataset keys that say how a dataset is sampled, not what its problem table holds
PROBLEMS_PLAN_ONLY = ("samples_per_problem", "sampling", "models", "exclude", "per_model", "adaptive")


def dataset_task(name: str, ds: dict[str, Any], root: Path | None = None) -> str:
    """The task of a dataset's problems (`task`, else its loader's default): it chooses the verifier."""
    return ds.get("task") or make_loader(name, ds, root).default_task()


def problems_identity(name: str, ds: dict[str, Any], root: Path | None = None) -> dict[str, Any]:
    """What decides a dataset's problem table: loader, args, selection, task and the prompt with the
    few-shot file's contents (the loader's own data file is an input of the stage)."""
    ident = _pruned({k: v for k, v in ds.items() if k not in (*PROBLEMS_PLAN_ONLY, "prompt", "task")})
    ident["task"] = dataset_task(name, ds, root)
    ident["prompt"] = prompt_identity(ds.get("prompt") or {}, root)
    return canonical(ident)


# the verifier each task maps to unless `verify.by_task` says otherwise (part of a verdict's identity)
DEFAULT_BY_TASK = {"code": "code", "math": "math", "repo": "swebench", "other": "auto"}

# verify settings that only say where and how fast sandboxes run (the sandboxes run the same image),
# and the audit's own repeat count: not part of what a verdict is
VERIFY_RUNTIME = ("workers", "backend", "image", "sif", "audit_repeats")
# sandbox settings that only say where the sandboxes run (not what they allow a sample)
CONTAINER_RUNTIME = ("pin_cpus",)
# the same for repository tasks: which engine runs the instance images, whether a container is
# reused between patches (verdicts are the same), pulling, and where logs are kept
REPOSITORY_RUNTIME = ("backend", "pull", "per_patch", "keep_logs")


def verify_identity(config: dict[str, Any], dataset: str, root: Path | None = None) -> dict[str, Any]:
    """What decides a dataset's verdicts: its task, the verifier that task maps to, and the limits."""
    settings = config.get("verify") or {}
    task = dataset_task(dataset, config["datasets"][dataset], root)
    ident = _pruned({k: v for k, v in settings.items() if k not in (*VERIFY_RUNTIME, "by_task")})
    if isinstance(ident.get("repository"), dict):
        ident["repository"] = {k: v for k, v in ident["repository"].items() if k not in REPOSITORY_RUNTIME}
    if isinstance(ident.get("container"), dict):
        ident["container"] = {k: v for k, v in ident["container"].items() if k not in CONTAINER_RUNTIME}
        if not ident["container"]:
            del ident["container"]
    ident["task"] = task
    ident["verifier"] = {**DEFAULT_BY_TASK, **(settings.get("by_task") or {})}.get(task, task)
    ident.pop("extended", None)
    ext = extended_identity(config, dataset, root)  # a code dataset's extended tests (with their defaults)
    if ext is not None:
        ident["extended"] = _pruned(ext)
    return canonical(ident)


# a code dataset's extended tests (ttscale.verify.extended): settings, defaults and identity
EXTENDED_DEFAULTS = {"inputs": 50, "input_s": 0.1, "oversample": 3, "file": None}


def extended_settings(config: dict[str, Any], dataset: str) -> dict[str, Any]:
    """A dataset's extended-test settings: the defaults, then `verify.extended`, then the dataset's own
    `extended` mapping (e.g. its EvalPlus `file`); `false` at either level turns them off (inputs 0)."""
    top = (config.get("verify") or {}).get("extended", {})
    own = config["datasets"][dataset].get("extended", {})
    if top is False or own is False:
        return {**EXTENDED_DEFAULTS, "inputs": 0}
    return {**EXTENDED_DEFAULTS, **(top if isinstance(top, dict) else {}), **(own if isinstance(own, dict) else {})}


def extended_enabled(config: dict[str, Any], dataset: str, root: Path | None = None) -> bool:
    """Whether a dataset gets an extended-tests table: a code dataset with extended tests not turned off."""
    ext = extended_settings(config, dataset)
    wanted = int(ext["inputs"]) > 0 or bool(ext.get("file"))
    return wanted and dataset_task(dataset, config["datasets"][dataset], root) == "code"


def extended_identity(config: dict[str, Any], dataset: str, root: Path | None = None) -> dict[str, Any] | None:
    """What decides a dataset's extended tests (part of its verify identity): the settings, the experiment
    seed, and a user file's SHA-256; None when the dataset has none."""
    if not extended_enabled(config, dataset, root):
        return None
    ext = extended_settings(config, dataset)
    out = {**ext, "seed": config.get("seed", 0)}
    if ext.get("file") and Path(ext["file"]).exists():
        out["file_sha256"] = hashlib.sha256(Path(ext["file"]).read_bytes()).hexdigest()
    return out


def audit_identity(config: dict[str, Any], dataset: str, root: Path | None = None) -> dict[str, Any]:
    """The gold audit's: the verdict settings and how often each reference solution runs (the reference
    solutions always run under the fixed limits, so verify.reference_limits is not part of it)."""
    repeats = (config.get("verify") or {}).get("audit_repeats")
    skip = ("reference_limits", "extended")  # extended tests do not run in the audit
    ident = {k: v for k, v in verify_identity(config, dataset, root).items() if k not in skip}
    return {**ident, "audit_repeats": repeats}


# the model settings a scorer computes with (its own, else those of its `model:`)
SCORER_MODEL_KEYS = ("path", "revision", "tokenizer", "dtype", "max_model_len")


def scorer_identity(config: dict[str, Any], scorer: str) -> dict[str, Any]:
    """What decides a scorer's scores: its spec with its family's defaults, without the run selection
    and engine settings, plus the model it runs (inherited settings included)."""
    spec = resolve(config["scorers"][scorer])
    ident = _pruned({k: v for k, v in spec.items() if k not in SCORER_SELECTION})
    if spec.get("kind") != "logprob":
        # the model by what it is, not by how it is named or where its settings are written
        for key in (*SCORER_MODEL_KEYS, "model", "build"):
            ident.pop(key, None)
        ident["model_spec"] = _pruned(model_spec(scorer, spec, config), SCORER_MODEL_KEYS)
    return canonical(ident)


# what the analysis reads of a model: its folder's config.json (FLOPs), prices and FLOPs overrides
ANALYSIS_MODEL_KEYS = ("path", "revision", "price", "flops")


def analysis_model_spec(model: dict[str, Any]) -> dict[str, Any]:
    return canonical(_pruned(model, ANALYSIS_MODEL_KEYS))


def is_search_key(config: dict[str, Any], model: str, dataset: str, sampling: str,
                  root: Path | None = None) -> bool:
    """Whether a sampling key names a search run (`<strategy>-<hash>`).

    Decided by the config and the hash, not by the spelling: a preset may have a strategy's name.
    """
    preset = sampling.rpartition("-")[0]
    if preset in config["sampling"] and sampling_key(config, model, dataset, preset, root) == sampling:
        return False
    return preset in (config.get("strategies") or {})


def scorer_cost_spec(config: dict[str, Any], scorer: str) -> dict[str, Any] | None:
    """What the cost model reads of a scorer's model (as analysis_model_spec); None for a model-free
    scorer (kind logprob reads the samples' own log-probabilities: no model call)."""
    spec = resolve(config["scorers"][scorer])
    if spec.get("kind") == "logprob":
        return None
    return analysis_model_spec(model_spec(scorer, spec, config))
