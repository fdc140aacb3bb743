"""The `analysis:` config section with its schema defaults filled in (ttscale.config.section).

The JSON Schema stays the single source of truth for defaults: settings given directly (tests,
benchmarks, the import command) are validated against the same sub-schema as a config is.
"""

from __future__ import annotations

from typing import Any

from ttscale.config import section


def analysis_settings(given: dict[str, Any] | None = None) -> dict[str, Any]:
    return section("analysis", given)
