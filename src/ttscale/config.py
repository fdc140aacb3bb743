"""Loading, merging and validating the experiment config.

The JSON Schema in workflow/schemas/config.schema.yaml is the single source of truth for keys,
types and defaults; Snakemake checks it with `snakemake.utils.validate` and the package with
`validate()` here, so both fill in the same defaults. `check()` adds what a schema cannot say:
references between sections here, and through hooks the stages register (`register_check`) their
plug-in names and files (unknown backends, loaders, strategies; model paths that do not exist).
Identities and keys live in ttscale.keys.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
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


def section(name: str, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate `given` (partial) against the schema's top-level section `name`, filling defaults: settings
    given directly (tests, benchmarks, the import command) get the same defaults as a config."""
    schema = load_schema()
    sub = copy.deepcopy(schema["properties"][name])
    sub["definitions"] = schema.get("definitions", {})
    value = copy.deepcopy(given) if given else {}
    validator = _validator_with_defaults(sub)
    for _ in range(2):
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if errors:
            e = errors[0]
            where = ".".join([name, *(str(p) for p in e.absolute_path)])
            raise ConfigError(f"key {where}: {e.message}")
    return value


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


# A stage's own section is checked by a hook the stage package registers (`CHECKS.register`):
# the base knows no backend, loader, strategy, scorer family or sandbox, and never imports a stage.
Check = Callable[[dict[str, Any], str, Path], None]
SECTIONS = ("models", "datasets", "strategies", "scorers", "verify")
CHECKS: dict[str, list[Check]] = {s: [] for s in SECTIONS}
# where each section's hook is registered; check() refuses to run with one of them missing, so a
# caller that forgot to import the stages gets an error rather than a config checked by halves
CHECKED_BY = {"models": ("ttscale.generate", "ttscale.models.build"), "datasets": ("ttscale.problems",),
              "strategies": ("ttscale.search",), "scorers": ("ttscale.score",), "verify": ("ttscale.verify",)}


def register_check(section: str, owner: str) -> Callable[[Check], Check]:
    """Decorator: `fn(config, source, root)` checks `section`; `owner` is the registering package."""
    if section not in CHECKS:
        raise ValueError(f"unknown config section {section!r} for a check; known: {', '.join(SECTIONS)}")

    def add(fn: Check) -> Check:
        fn.owner = owner  # type: ignore[attr-defined]
        CHECKS[section].append(fn)
        return fn

    return add


def check(config: dict[str, Any], source: str = "config", root: Path | None = None) -> None:
    """Checks a schema cannot express; every error names the key at fault.

    References between sections are checked here; each section's plug-in names and files by the
    hooks its stage registered (import ttscale.plan, or the stage packages, first).
    """
    owners = {getattr(fn, "owner", "") for hooks in CHECKS.values() for fn in hooks}
    missing = sorted({m for mods in CHECKED_BY.values() for m in mods} - owners)
    if missing:
        raise RuntimeError(f"config checks of {', '.join(missing)} are not registered: import ttscale.plan "
                           f"(which imports every stage) before checking a config")
    root = root or Path.cwd()
    refs = {"datasets": _check_dataset_refs, "strategies": _check_strategy_refs, "scorers": _check_scorer_refs}
    for section in SECTIONS:
        for fn in CHECKS[section]:
            fn(config, source, root)
        if section in refs:
            refs[section](config, source)


def _check_dataset_refs(config: dict[str, Any], source: str) -> None:
    for name, ds in config["datasets"].items():
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


def _check_strategy_refs(config: dict[str, Any], source: str) -> None:
    for name, spec in (config.get("strategies") or {}).items():
        if spec.get("sampling") and spec["sampling"] not in config["sampling"]:
            raise ConfigError(f"{source}: strategies.{name}.sampling: unknown preset {spec['sampling']!r}")


def _check_scorer_refs(config: dict[str, Any], source: str) -> None:
    for name, spec in (config.get("scorers") or {}).items():
        if spec.get("model") and spec["model"] not in config["models"]:
            raise ConfigError(f"{source}: scorers.{name}.model: {spec['model']!r} is not a model of the config")
        for key, section in (("datasets", "datasets"), ("models", "models"), ("strategies", "strategies")):
            for item in spec.get(key) or []:
                if item not in (config.get(section) or {}):
                    raise ConfigError(f"{source}: scorers.{name}.{key}: {item!r} is not one of the config's "
                                      f"{section}")


def resolve_path(path: str, root: Path) -> Path:
    """`path` with ~ expanded, relative to `root` unless absolute."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else root / p


def is_hub_id(path: str, root: Path | None = None) -> bool:
    """True for 'org/name' strings that are not an existing local folder."""
    root = root or Path.cwd()
    return bool(HUB_ID.match(path)) and not resolve_path(path, root).exists()


def experiment_dir(config: dict[str, Any]) -> Path:
    return _experiment_dir(str(config["results"]), str(config["experiment"]))


@functools.lru_cache(maxsize=64)
def _experiment_dir(results: str, experiment: str) -> Path:
    # cached: the planner asks for it once per shard path (thousands of times on a paper config)
    return Path(results) / experiment
