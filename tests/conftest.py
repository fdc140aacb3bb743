"""Shared fixtures. Heavy parts (the vLLM engine, Docker, SLURM) are real; see README.md."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EMBEDDED_MODEL = REPO / "resources" / "models" / "smollm2-135m-instruct"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def embedded_model() -> Path:
    """The SmolLM2 folder the default config uses, built once from the GGUF if missing."""
    if not (EMBEDDED_MODEL / "config.json").exists():
        from ttscale.models.build import build

        build("smollm2_gguf", EMBEDDED_MODEL)
    return EMBEDDED_MODEL


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A scratch copy of the workflow (Snakefile, rules, schemas, profiles) to run Snakemake in."""
    for item in ("Snakefile", "workflow", "profiles", "config"):
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, tmp_path / item)
        else:
            shutil.copy(src, tmp_path / item)
    (tmp_path / "resources" / "models").mkdir(parents=True)
    if EMBEDDED_MODEL.exists():
        os.symlink(EMBEDDED_MODEL, tmp_path / "resources" / "models" / EMBEDDED_MODEL.name)
    return tmp_path
