"""Model resolution offline, the embedded model build, and the `ttscale plan` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ttscale.cli import main
from ttscale.errors import ConfigError
from ttscale.models.resolve import resolve_model_path


def test_local_folder_resolves(embedded_model: Path):
    assert resolve_model_path("m", {"path": str(embedded_model)}) == str(embedded_model)
    cfg = json.loads((embedded_model / "config.json").read_text())
    assert cfg["architectures"] == ["LlamaForCausalLM"] and "quantization_config" not in cfg
    assert (embedded_model / "model.safetensors").stat().st_size > 400e6  # de-quantized fp32 weights


def test_missing_local_folder(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"models\.m\.path: .*absent.* does not exist"):
        resolve_model_path("m", {"path": "./absent/model"}, tmp_path)


def test_hub_id_not_cached_is_a_clear_error(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError) as err:
        resolve_model_path("big", {"path": "meta-llama/Llama-3.1-70B-Instruct", "revision": "main"}, tmp_path)
    msg = str(err.value)
    assert "models.big.path" in msg and "not in the local Hugging Face cache" in msg and "hf download" in msg


def test_plan_command(repo: Path, capsys, monkeypatch):
    monkeypatch.chdir(repo)
    assert main(["plan", "--configfile", "config/config.yaml"]) == 0
    out = capsys.readouterr().out
    assert "humaneval" in out and "arithmetic" in out and "total:" in out


def test_cli_reports_config_errors(tmp_path: Path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: {}\ndatasets: {}\nsampling: {}\n")
    assert main(["plan", "--configfile", str(bad)]) == 1
    assert "bad.yaml" in capsys.readouterr().err
