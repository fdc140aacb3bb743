"""Per-model settings of a dataset (`datasets.<d>.per_model`): samples per problem and prompt overrides
per (model, dataset), with their identity rules."""

from __future__ import annotations

import copy
import json

import pytest

from ttscale import keys as tkeys
from ttscale import plan as tplan
from ttscale.config import check, validate
from ttscale.errors import ConfigError
from ttscale.problems import build_problems
from ttscale.problems.prompts import model_prompt, model_rows


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


QWEN = "Please reason step by step, and put your final answer within \\boxed{}."


def keys_of(config: dict, root) -> dict[tuple[str, str], str]:
    return {(r.model, r.dataset): r.key for r in tplan.runs(config, root)}


def test_prompt_override_is_a_new_key_for_that_model_only(tmp_path):
    plain = make({})
    over = make({"b": {"prompt": {"system": QWEN}}})
    before, after = keys_of(plain, tmp_path), keys_of(over, tmp_path)
    assert after[("b", "d")] != before[("b", "d")]  # b's prompt on d changed: new samples
    assert {k: v for k, v in after.items() if k != ("b", "d")} == \
        {k: v for k, v in before.items() if k != ("b", "d")}  # a on d, both on e: kept
    # the identity names the merged prompt: the dataset's keys, the override's system prompt
    ident = tkeys.sampling_identity(over, "b", "d", "s", tmp_path)["dataset"]["prompt"]
    assert ident["system"] == QWEN and ident["mode"] == "chat"
    # the problem table does not depend on any model's prompt
    assert tkeys.problems_identity("d", plain["datasets"]["d"], tmp_path) == \
        tkeys.problems_identity("d", over["datasets"]["d"], tmp_path)
    # an override equal to nothing (no keys set) keeps the key
    assert keys_of(make({"b": {"prompt": {}}}), tmp_path) == before


def test_override_and_samples_combine(tmp_path):
    """Adding samples to the overridden model adds only its blocks, under its own key."""
    small = make({"b": {"prompt": {"system": QWEN}, "samples_per_problem": 4}})
    big = make({"b": {"prompt": {"system": QWEN}, "samples_per_problem": 8}})
    blocks = [{(r.model, r.dataset, r.key, b.name) for r in tplan.runs(c, tmp_path) for b in r.blocks}
              for c in (small, big)]
    assert {x[:3] for x in blocks[0]} == {x[:3] for x in blocks[1]}
    assert {x[:2] for x in blocks[1] - blocks[0]} == {("b", "d")}


def test_model_rows_render_the_override(tmp_path):
    config = make({"b": {"prompt": {"system": QWEN, "stop": ["END"]}}})
    config["datasets"]["d"]["prompt"] = {**config["datasets"]["d"]["prompt"], "system": "dataset system",
                                         "template": "Q: {question}", "few_shot": [{"question": "x", "answer": "y"}]}
    table = build_problems("d", config["datasets"]["d"], tmp_path)
    rows = table.to_pylist()
    assert model_rows(config, "d", "a", rows, tmp_path) is rows  # no override: the stored rows
    mine = model_rows(config, "d", "b", rows, tmp_path)
    assert [r["problem_id"] for r in mine] == [r["problem_id"] for r in rows]
    for old, new in zip(rows, mine, strict=True):
        msgs = json.loads(new["messages"])
        assert msgs[0] == {"role": "system", "content": QWEN}
        # the dataset's other prompt keys stay: its template and its few-shot turn
        assert msgs[1:] == json.loads(old["messages"])[1:]
        assert new["stop"] == ["END"] and old["stop"] == []
        assert {k: v for k, v in new.items() if k not in ("messages", "stop")} == \
            {k: v for k, v in old.items() if k not in ("messages", "stop")}
    assert model_prompt(config["datasets"]["d"], "a")["system"] == "dataset system"


def test_bad_override_is_named(tmp_path):
    with pytest.raises(Exception, match="per_model"):
        make({"b": {"prompt": {"sytem": QWEN}}})  # schema: unknown key
    bad = make({"b": {"prompt": {"few_shot_file": "missing.jsonl"}}})
    with pytest.raises(ConfigError, match=r"datasets\.d\.per_model\.b\.prompt\.few_shot_file: missing\.jsonl"):
        check(bad, "test.yaml", tmp_path)
    bad = make({"b": {"prompt": {"template": "{nope}"}}})
    rows = build_problems("d", bad["datasets"]["d"], tmp_path).to_pylist()
    with pytest.raises(ConfigError, match=r"datasets\.d\.per_model\.b\.prompt\.template.*\{nope\}"):
        model_rows(bad, "d", "b", rows, tmp_path)
