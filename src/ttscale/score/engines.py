"""Loading the model behind a scorer: resolve its path, then a vLLM engine or a transformers model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ttscale.models.families import model_spec
from ttscale.models.resolve import resolve_model_path

log = logging.getLogger(__name__)


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
