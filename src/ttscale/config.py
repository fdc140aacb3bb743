"""Loading, validating and fingerprinting the experiment config.

The JSON Schema in workflow/schemas/config.schema.yaml is the single source of truth for keys,
types and defaults; Snakemake checks it with `snakemake.utils.validate` and the package with
`validate()` here, so both fill in the same defaults. `check()` adds what a schema cannot say
(unknown plug-in names, references between sections, model paths that do not exist).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ttscale.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def load_schema() -> dict[str, Any]:
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _validator_with_defaults(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """A validator that fills in `default`s of properties, as snakemake.utils.validate does."""
    base = jsonschema.validators.validator_for(schema)
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    cls = jsonschema.validators.extend(base, {"properties": set_defaults})
    return cls(schema)


def _where(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def validate(config: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """Validate in place (filling defaults) and return the config; errors name the key at fault."""
    validator = _validator_with_defaults(load_schema())
    # Two passes: defaults filled inside `additionalProperties` objects can be validated only
    # after they exist.
    for _ in range(2):
        errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
        if errors:
            e = errors[0]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise ConfigError(f"{source}: key {_where(e)}: {e.message}{more}")
    return config


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a YAML config, apply `overrides` (top-level keys), validate and check it."""
    p = Path(path)
    try:
        with open(p, encoding="utf-8") as fh:
            config = yaml.safe_load(fh) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc})") from None
    if overrides:
        config.update(overrides)
    validate(config, str(p))
    check(config, str(p))
    return config


def check(config: dict[str, Any], source: str = "config", root: Path | None = None) -> None:
    """Checks a schema cannot express; every error names the key at fault."""
    # Imported here: the registries import heavier modules, and the schema check should not.
    from ttscale.generate import BACKENDS
    from ttscale.models.build import BUILDERS
    from ttscale.problems import LOADERS

    root = root or Path.cwd()
    for name, model in config["models"].items():
        BACKENDS.get(model["backend"], f"{source}: models.{name}.backend")
        from ttscale.reasoning import spec_for

        spec_for(model, f"{source}: models.{name}.reasoning")  # a clear error for a bad preset or delimiters
        if model.get("build"):
            BUILDERS.get(model["build"], f"{source}: models.{name}.build")
        elif not is_hub_id(model["path"], root):
            path = _resolve(model["path"], root)
            if not path.exists():
                raise ConfigError(
                    f"{source}: models.{name}.path: {model['path']!r} does not exist "
                    f"(looked at {path}) and no `build` is given to create it"
                )
    for name, ds in config["datasets"].items():
        LOADERS.get(ds["loader"], f"{source}: datasets.{name}.loader")
        for preset in ds.get("sampling") or []:
            if preset not in config["sampling"]:
                raise ConfigError(
                    f"{source}: datasets.{name}.sampling: unknown preset {preset!r}; "
                    f"known: {', '.join(sorted(config['sampling']))}"
                )
        for model in ds.get("models") or []:
            if model not in config["models"]:
                raise ConfigError(
                    f"{source}: datasets.{name}.models: unknown model {model!r}; "
                    f"known: {', '.join(sorted(config['models']))}"
                )
        few = ds["prompt"].get("few_shot_file")
        if few and not _resolve(few, root).exists():
            raise ConfigError(f"{source}: datasets.{name}.prompt.few_shot_file: {few} does not exist")
    from ttscale.search import check_strategy

    for name, spec in (config.get("strategies") or {}).items():
        check_strategy(name, spec, config)
        if spec.get("sampling") and spec["sampling"] not in config["sampling"]:
            raise ConfigError(f"{source}: strategies.{name}.sampling: unknown preset {spec['sampling']!r}")
    for name, spec in (config.get("scorers") or {}).items():
        if spec.get("model") and spec["model"] not in config["models"]:
            raise ConfigError(f"{source}: scorers.{name}.model: {spec['model']!r} is not a model of the config")
        for key, section in (("datasets", "datasets"), ("models", "models"), ("strategies", "strategies")):
            for item in spec.get(key) or []:
                if item not in (config.get(section) or {}):
                    raise ConfigError(f"{source}: scorers.{name}.{key}: {item!r} is not one of the config's "
                                      f"{section}")


def _resolve(path: str, root: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else root / p


def is_hub_id(path: str, root: Path | None = None) -> bool:
    """True for 'org/name' strings that are not an existing local folder."""
    root = root or Path.cwd()
    return bool(HUB_ID.match(path)) and not _resolve(path, root).exists()


# --- identities -------------------------------------------------------------------------------

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
    from ttscale.reasoning import identity as reasoning_identity

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


def dataset_identity(ds: dict[str, Any], root: Path | None = None) -> dict[str, Any]:
    """Loader, its arguments (except those that only set how many problems) and the prompt."""
    from ttscale.problems import LOADERS

    exempt = LOADERS.get(ds["loader"]).size_args if ds["loader"] in LOADERS else ()
    return {
        "loader": ds["loader"],
        "args": {k: v for k, v in (ds.get("args") or {}).items() if k not in exempt},
        "prompt": prompt_identity(ds.get("prompt") or {}, root),
    }


def sampling_identity(
    config: dict[str, Any], model: str, dataset: str, preset: str, root: Path | None = None
) -> dict[str, Any]:
    """Everything that decides what a sample is (see docs/architecture.md)."""
    return {
        "seed": config["seed"],
        "model": model_identity(config["models"][model]),
        "dataset": dataset_identity(config["datasets"][dataset], root),
        "sampling": _pruned(config["sampling"][preset], SAMPLING_IDENTITY_KEYS),
    }


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


def strategy_identity(config: dict[str, Any], model: str, dataset: str, strategy: str, budget: int,
                      root: Path | None = None) -> dict[str, Any]:
    """What decides a search's answers: the sampling identity, the strategy, its scorer, the budget."""
    from ttscale.score.families import resolve

    spec = config["strategies"][strategy]
    ident = sampling_identity(config, model, dataset, strategy_preset(config, strategy), root)
    ident["strategy"] = _pruned(spec, STRATEGY_IDENTITY_KEYS)
    if spec["kind"] == "lookahead":  # only its own kind carries k, so other strategies keep their keys
        ident["strategy"]["lookahead"] = 1 if spec.get("lookahead") is None else spec["lookahead"]
    ident["budget"] = budget
    if spec.get("scorer"):
        scorer = resolve(config["scorers"][spec["scorer"]])
        ident["scorer"] = _pruned({k: v for k, v in scorer.items() if k not in SCORER_SELECTION})
    return ident


def strategy_key(config: dict[str, Any], model: str, dataset: str, strategy: str, budget: int,
                 root: Path | None = None) -> str:
    """`<strategy>.n<budget>-<hash8>`: the directory of a search run's answers."""
    ident = strategy_identity(config, model, dataset, strategy, budget, root)
    return f"{strategy}.n{budget}-{fingerprint(ident)}"


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
PROBLEMS_PLAN_ONLY = ("samples_per_problem", "sampling", "models", "exclude", "per_model")


def dataset_task(name: str, ds: dict[str, Any], root: Path | None = None) -> str:
    """The task of a dataset's problems (`task`, else its loader's default): it chooses the verifier."""
    from ttscale.problems import make_loader

    return ds.get("task") or make_loader(name, ds, root).default_task()


def problems_identity(name: str, ds: dict[str, Any], root: Path | None = None) -> dict[str, Any]:
    """What decides a dataset's problem table: loader, args, selection, task and the prompt with the
    few-shot file's contents (the loader's own data file is an input of the stage)."""
    ident = _pruned({k: v for k, v in ds.items() if k not in (*PROBLEMS_PLAN_ONLY, "prompt", "task")})
    ident["task"] = dataset_task(name, ds, root)
    ident["prompt"] = prompt_identity(ds.get("prompt") or {}, root)
    return canonical(ident)


# verify settings that only say where and how fast sandboxes run (the sandboxes run the same image),
# and the audit's own repeat count: not part of what a verdict is
VERIFY_RUNTIME = ("workers", "backend", "image", "sif", "audit_repeats")
# the same for repository tasks: which engine runs the instance images, whether a container is
# reused between patches (verdicts are the same), pulling, and where logs are kept
REPOSITORY_RUNTIME = ("backend", "pull", "per_patch", "keep_logs")


def verify_identity(config: dict[str, Any], dataset: str, root: Path | None = None) -> dict[str, Any]:
    """What decides a dataset's verdicts: its task, the verifier that task maps to, and the limits."""
    from ttscale.verify import DEFAULT_BY_TASK
    from ttscale.verify.extended import identity as extended_identity

    settings = config.get("verify") or {}
    task = dataset_task(dataset, config["datasets"][dataset], root)
    ident = _pruned({k: v for k, v in settings.items() if k not in (*VERIFY_RUNTIME, "by_task")})
    if isinstance(ident.get("repository"), dict):
        ident["repository"] = {k: v for k, v in ident["repository"].items() if k not in REPOSITORY_RUNTIME}
    ident["task"] = task
    ident["verifier"] = {**DEFAULT_BY_TASK, **(settings.get("by_task") or {})}.get(task, task)
    ident.pop("extended", None)
    ext = extended_identity(config, dataset, root)  # a code dataset's extended tests (with their defaults)
    if ext is not None:
        ident["extended"] = _pruned(ext)
    return canonical(ident)


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
    from ttscale.score.engines import model_spec
    from ttscale.score.families import resolve

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


def experiment_dir(config: dict[str, Any]) -> Path:
    return _experiment_dir(str(config["results"]), str(config["experiment"]))


@functools.lru_cache(maxsize=64)
def _experiment_dir(results: str, experiment: str) -> Path:
    # cached: the planner asks for it once per shard path (thousands of times on a paper config)
    return Path(results) / experiment
