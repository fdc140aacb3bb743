"""Resolving a model's `path` to a local folder without touching the network."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ttscale.config import is_hub_id
from ttscale.errors import ConfigError


def resolve_model_path(name: str, model: dict[str, Any], root: Path | None = None) -> str:
    """A local folder for `model`; hub ids must already be in the local Hugging Face cache."""
    root = root or Path.cwd()
    path = model["path"]
    if not is_hub_id(path, root):
        p = Path(path).expanduser()
        p = p if p.is_absolute() else root / p
        if not p.exists():
            raise ConfigError(f"models.{name}.path: {p} does not exist")
        return str(p)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return snapshot_download(path, revision=model.get("revision"), local_files_only=True)
    except (LocalEntryNotFoundError, FileNotFoundError, OSError) as exc:
        cache = os.environ.get("HF_HOME", "~/.cache/huggingface")
        raise ConfigError(
            f"models.{name}.path: hub model {path!r} (revision {model.get('revision') or 'main'}) is "
            f"not in the local Hugging Face cache ({cache}): {type(exc).__name__}. Download it "
            f"where there is internet (`hf download {path}`) and share that cache, or set `path` "
            f"to a local folder."
        ) from None
