"""Config validation: defaults from the schema, and errors that name the key at fault."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

import ttscale.plan  # noqa: F401  (imports the stages, which register their config checks)
from ttscale.config import check, load_config, validate
from ttscale.errors import ConfigError
from ttscale.keys import sampling_key

BASE = {
    "models": {"m": {"path": "resources/models/x", "build": "smollm2_gguf"}},
    "datasets": {"d": {"loader": "reasoning_gym", "args": {"task": "basic_arithmetic", "size": 5}}},
    "sampling": {"s": {"temperature": 0.7}},
}


def cfg(**changes):
    c = copy.deepcopy(BASE)
    c.update(changes)
    return c


def test_defaults_filled_at_every_level():
    c = validate(cfg())
    assert c["experiment"] == "default" and c["block_size"] == 16
    assert c["models"]["m"]["backend"] == "vllm"
    assert c["datasets"]["d"]["prompt"]["template"] == "{question}"
    assert c["sampling"]["s"]["max_tokens"] == 256 and c["sampling"]["s"]["temperature"] == 0.7


def test_default_config_is_valid(repo: Path):
    config = load_config(repo / "config" / "config.yaml")
    assert config["models"] and config["datasets"]


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda c: c["datasets"]["d"].update(limit=0), "datasets.d.limit"),
        (lambda c: c["sampling"]["s"].update(temperature="hot"), "sampling.s.temperature"),
        (lambda c: c["models"]["m"].update(dtyp="float32"), "models.m"),
        (lambda c: c.update(block_size=-1), "block_size"),
        (lambda c: c["datasets"].update({"bad/name": {"loader": "jsonl"}}), "bad/name"),
        (lambda c: c["models"]["m"].pop("path"), "path"),
        (lambda c: c.update(verify={"limits": {"wall_s": 0}}), "verify.limits.wall_s"),
        (lambda c: c.update(verify={"container": {"cpus": -1}}), "verify.container.cpus"),
    ],
)
def test_schema_errors_name_the_key(mutate, needle):
    c = cfg()
    mutate(c)
    with pytest.raises(ConfigError) as err:
        validate(c, "my.yaml")
    assert "my.yaml" in str(err.value) and needle in str(err.value)


def test_unknown_loader_backend_builder_are_clear(tmp_path: Path):
    for path, value, needle in [
        (("datasets", "d", "loader"), "hf", "unknown dataset loader 'hf'"),
        (("models", "m", "backend"), "tgi", "unknown generation backend 'tgi'"),
        (("models", "m", "build"), "nope", "unknown model builder 'nope'"),
    ]:
        c = validate(cfg())
        c[path[0]][path[1]][path[2]] = value
        with pytest.raises(ConfigError, match=needle) as err:
            check(c, "x.yaml", tmp_path)
        assert ".".join(path) in str(err.value)


def test_missing_model_path_is_an_error(tmp_path: Path):
    c = validate(cfg(models={"m": {"path": "models/absent/folder"}}))
    with pytest.raises(ConfigError, match=r"models\.m\.path.*does not exist"):
        check(c, "x.yaml", tmp_path)


def test_references_between_sections(tmp_path: Path):
    c = validate(cfg())
    c["datasets"]["d"]["sampling"] = ["nope"]
    with pytest.raises(ConfigError, match="datasets.d.sampling: unknown preset 'nope'"):
        check(c, "x.yaml", tmp_path)


def test_load_config_reports_file(tmp_path: Path):
    p = tmp_path / "c.yaml"
    p.write_text("models: [1, 2\n")
    with pytest.raises(ConfigError, match="c.yaml: not valid YAML"):
        load_config(p)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    p.write_text(yaml.safe_dump(cfg(seed="x")))
    with pytest.raises(ConfigError, match="key seed"):
        load_config(p)


def test_sampling_key_tracks_what_changes_samples(tmp_path: Path):
    base = validate(cfg())
    key = sampling_key(base, "m", "d", "s", tmp_path)
    assert key.startswith("s-") and len(key) == len("s-") + 8

    def changed(mutate) -> str:
        c = copy.deepcopy(base)
        mutate(c)
        return sampling_key(c, "m", "d", "s", tmp_path)

    # these decide what a sample is
    assert changed(lambda c: c["sampling"]["s"].update(temperature=1.0)) != key
    assert changed(lambda c: c["sampling"]["s"].update(stop=["\n"])) != key
    assert changed(lambda c: c["datasets"]["d"]["prompt"].update(system="Be brief.")) != key
    assert changed(lambda c: c["models"]["m"].update(dtype="bfloat16")) != key
    assert changed(lambda c: c.update(seed=1)) != key
    assert changed(lambda c: c["datasets"]["d"]["args"].update(seed=3)) != key
    # these only change speed or selection
    assert changed(lambda c: c["models"]["m"].update(engine={"max_num_seqs": 8})) == key
    assert changed(lambda c: c.update(block_size=64, samples_per_problem=1000)) == key
    assert changed(lambda c: c["datasets"]["d"].update(limit=3)) == key
