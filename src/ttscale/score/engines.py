"""Loading the model behind a scorer: resolve its path, then a vLLM engine or a transformers model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ttscale.errors import ConfigError
from ttscale.models.resolve import resolve_model_path

log = logging.getLogger(__name__)


def model_spec(name: str, spec: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The model a scorer runs: a model of the config (`model:`) or its own `path` (+ `build`)."""
    if spec.get("model"):
        if spec["model"] not in config["models"]:
            raise ConfigError(f"scorers.{name}.model: {spec['model']!r} is not a model of the config; "
                              f"known: {', '.join(sorted(config['models']))}")
        base = dict(config["models"][spec["model"]])
    else:
        path = spec.get("path") or (f"resources/models/{spec['family']}" if spec.get("build") else spec.get("hub"))
        if not path:
            raise ConfigError(f"scorers.{name}: give `model` (a model of the config) or `path`")
        base = {"path": path, "build": spec.get("build"), "dtype": "auto"}
    for key in ("dtype", "max_model_len", "revision", "tokenizer"):
        if spec.get(key) is not None:
            base[key] = spec[key]
    return base


def scorer_path(name: str, spec: dict[str, Any], config: dict[str, Any], root: Path) -> str:
    return resolve_model_path(f"scorers.{name}", model_spec(name, spec, config), root)


def vllm_engine(name: str, spec: dict[str, Any], config: dict[str, Any], root: Path, threads: int | None,
                runner: str | None = None, pooler: dict[str, Any] | None = None):
    from ttscale.engine import make_llm

    m = model_spec(name, spec, config)
    engine = dict(spec.get("engine") or {})
    if pooler:
        from vllm.config import PoolerConfig

        engine["pooler_config"] = PoolerConfig(**pooler)
    if spec.get("trust_remote_code"):
        engine["trust_remote_code"] = True
    return make_llm(resolve_model_path(f"scorers.{name}", m, root), dtype=m.get("dtype", "auto"),
                    max_model_len=m.get("max_model_len"), tokenizer=m.get("tokenizer"),
                    revision=m.get("revision"), threads=threads, runner=runner, engine=engine)
