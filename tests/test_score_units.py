"""Step splitting, aggregations, score rows and the reward-model family registry (no engines)."""

from __future__ import annotations

import math

import pytest

from ttscale.config import validate
from ttscale.errors import ConfigError
from ttscale.models.families import resolve
from ttscale.score import FAMILIES, SCORERS
from ttscale.score.base import aggregate, row, split_steps


def test_split_steps_offsets():
    text = "First step.\n\nSecond step.\n\n\n\nThird."
    steps, ends = split_steps(text)
    assert steps == ["First step.", "Second step.", "Third."]
    assert [text[:e].rstrip().endswith(s) for s, e in zip(steps, ends, strict=True)] == [True] * 3
    assert split_steps("one\ntwo", "\n") == (["one", "two"], [3, 7])
    assert split_steps("   ") == ([], [])


def test_aggregations_and_rows():
    s = [0.9, 0.5, 0.8]
    assert aggregate(s, "last") == 0.8 and aggregate(s, "min") == 0.5
    assert aggregate(s, "prod") == pytest.approx(0.36) and aggregate(s, "mean") == pytest.approx(2.2 / 3)
    assert aggregate([], "min") is None
    with pytest.raises(ValueError, match="unknown step aggregation"):
        aggregate(s, "median")
    r = row(None, "ok", s, [3, 7, 9], default="prod")
    assert r["score"] == pytest.approx(0.36) and r["score_min"] == 0.5 and r["step_ends"] == [3, 7, 9]
    assert row(0.7)["step_scores"] is None and row(None, "empty")["status"] == "empty"


def test_known_families_and_their_formats():
    for name in ["skywork-reward", "armorm", "math-shepherd", "rlhflow-prm", "qwen2.5-math-prm", "skywork-prm",
                 "test-orm-smollm2", "test-prm-smollm2"]:
        entry = FAMILIES.get(name)
        assert entry["kind"] in {"outcome", "process"} and entry["readout"] and entry["doc"]
    shepherd = FAMILIES.get("math-shepherd")
    assert shepherd["step_tag"] == " ки" and (shepherd["good_token"], shepherd["bad_token"]) == ("+", "-")
    qwen = FAMILIES.get("qwen2.5-math-prm")
    assert qwen["step_separator_token"] == "<extra_0>" and "boxed" in qwen["system"]
    assert FAMILIES.get("rlhflow-prm")["format"] == "conversation"
    assert "meaningless" in FAMILIES.get("test-orm-smollm2")["doc"]
    assert "meaningless" in FAMILIES.get("test-prm-smollm2")["doc"]


def test_family_defaults_and_overrides():
    spec = resolve({"family": "math-shepherd", "aggregation": "min", "backend": None})
    assert spec["readout"] == "token_pair" and spec["aggregation"] == "min" and "doc" not in spec
    assert resolve({"family": "armorm"})["backend"] == "transformers"
    assert resolve({"family": "armorm", "backend": "vllm"})["backend"] == "vllm"
    with pytest.raises(ConfigError, match="unknown reward-model family 'nope'"):
        resolve({"family": "nope"})
    assert set(SCORERS.names()) == {"generative", "logprob", "outcome", "process"}


def test_scorer_config_is_validated():
    base = {"models": {"m": {"path": "x", "build": "smollm2_gguf"}},
            "datasets": {"d": {"loader": "human_eval"}}, "sampling": {"s": {}}}
    c = validate({**base, "scorers": {"j": {"kind": "generative", "model": "m"}}})
    assert c["scorers"]["j"]["normalize"] is False
    with pytest.raises(ConfigError, match="scorers.j.aggregation"):
        validate({**base, "scorers": {"j": {"aggregation": "median"}}})


def test_logprob_baselines():
    from pathlib import Path

    from ttscale.score.base import Item
    from ttscale.score.generative import LogprobScorer

    items = [Item("q", "a b", -4.0, 4), Item("q", "", None, 0)]
    whole = LogprobScorer("lp", {}, {}, Path(".")).score(items)
    per = LogprobScorer("lp", {"normalize": True}, {}, Path(".")).score(items)
    assert whole[0]["score"] == -4.0 and per[0]["score"] == -1.0 and math.isclose(per[0]["score"] * 4, -4.0)
    assert whole[1]["status"] == per[1]["status"] == "empty"
