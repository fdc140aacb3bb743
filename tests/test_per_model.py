"""Per-model settings of a dataset (`datasets.<d>.per_model`): samples per problem per (model, dataset)."""

from __future__ import annotations

import copy

import pytest

from ttscale import plan as tplan
from ttscale.config import validate
from ttscale.errors import ConfigError


def make(per_model: dict) -> dict:
    return validate({
        "samples_per_problem": 8, "block_size": 4,
        "models": {"a": {"path": "org/a"}, "b": {"path": "org/b"}},
        "datasets": {"d": {"loader": "human_eval", "limit": 3, "per_model": per_model},
                     "e": {"loader": "human_eval", "limit": 2}},
        "sampling": {"s": {}},
    })


def test_samples_per_problem_per_model(tmp_path):
    runs = {(r.model, r.dataset): r for r in tplan.runs(make({"b": {"samples_per_problem": 2}}), tmp_path)}
    assert runs[("a", "d")].samples_per_problem == 8 and len(runs[("a", "d")].blocks) == 2
    assert runs[("b", "d")].samples_per_problem == 2 and [b.name for b in runs[("b", "d")].blocks] == \
        ["p00000-00003_s000000-000002"]
    assert runs[("b", "e")].samples_per_problem == 8  # only on the dataset that says so


def test_raising_one_models_samples_adds_only_its_blocks(tmp_path):
    before = {(r.model, r.dataset, r.key, b.name) for r in tplan.runs(make({"b": {"samples_per_problem": 2}}),
                                                                       tmp_path) for b in r.blocks}
    after = {(r.model, r.dataset, r.key, b.name) for r in tplan.runs(make({"b": {"samples_per_problem": 12}}),
                                                                      tmp_path) for b in r.blocks}
    # the sampling keys are unchanged; b's partial block is replaced by full ones, a's blocks stay
    assert {x for x in after - before} == {("b", "d", k, n) for (m, d, k, n) in after - before}
    assert {x[:3] for x in before} == {x[:3] for x in after}
    assert {x for x in before if x[0] == "a"} == {x for x in after if x[0] == "a"}
    assert sorted(n for m, d, _, n in after - before) == ["p00000-00003_s000000-000004", "p00000-00003_s000004-000008",
                                                          "p00000-00003_s000008-000012"]


def test_unknown_model_is_named(tmp_path):
    bad = make({"zz": {"samples_per_problem": 2}})
    with pytest.raises(ConfigError, match=r"datasets\.d\.per_model\.zz: not a model this dataset runs"):
        tplan.runs(bad, tmp_path)
    only_a = copy.deepcopy(make({"b": {"samples_per_problem": 2}}))
    only_a["datasets"]["d"]["models"] = ["a"]
    with pytest.raises(ConfigError, match="per_model.b"):
        tplan.runs(only_a, tmp_path)
