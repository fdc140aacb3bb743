"""The `analysis:` and `report:` config sections with their schema defaults filled in.

The JSON Schema stays the single source of truth for defaults: settings given directly (tests,
benchmarks, the import command) are validated against the same sub-schema as a config is.
"""

from __future__ import annotations

import copy
from typing import Any

from ttscale.config import _validator_with_defaults, load_schema
from ttscale.errors import ConfigError


def section(name: str, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate `given` (partial) against the schema's top-level section `name`, filling defaults."""
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


def analysis_settings(given: dict[str, Any] | None = None) -> dict[str, Any]:
    return section("analysis", given)


def report_settings(given: dict[str, Any] | None = None) -> dict[str, Any]:
    return section("report", given)
