"""Thinking blocks and budget forcing: the bookkeeping, without an engine (the real engine runs in
tests/test_reasoning_engine.py)."""

from __future__ import annotations

import pytest

from ttscale.config import validate
from ttscale.errors import ConfigError
from ttscale.generate.base import Request, Result
from ttscale.generate.progress import Progress
from ttscale.keys import sampling_key
from ttscale.reasoning import (
    UNCLOSED_REASON,
    answer_rows,
    chat_messages,
    columns,
    spec_for,
    split,
    strip_thinking,
)
from ttscale.search.budget import budget_forcing
from ttscale.search.strategies import SearchProblem, SearchSpec

THINK = spec_for({"reasoning": "think_tags"})


def test_presets_and_overrides():
    qwen = spec_for({"reasoning": {"preset": "qwen3"}})
    assert (qwen.start, qwen.end, qwen.chat_template_kwargs) == ("<think>", "</think>", {"enable_thinking": True})
    own = spec_for({"reasoning": {"preset": "qwen3", "end": "<|end_think|>"}})
    assert own.end == "<|end_think|>" and own.start == "<think>"
    assert spec_for({}) is None and spec_for({"reasoning": None}) is None
    with pytest.raises(ConfigError, match=r"unknown reasoning preset 'r2' \(at models.m.reasoning.preset\)"):
        spec_for({"reasoning": "r2"}, "models.m.reasoning")
    with pytest.raises(ConfigError, match="needs `start` and `end`"):
        spec_for({"reasoning": {"start": "<t>"}})


def test_split_finds_the_block_in_prompt_or_completion():
    # opened by the prompt (R1 templates, an assistant prefix)
    s = split("<|user|>q<|assistant|><think>\n", "so 4.</think>\nThe answer is 4", THINK)
    assert s.status == "closed" and s.answer("so 4.</think>\nThe answer is 4") == "\nThe answer is 4"
    # opened by the completion, after whitespace
    text = "  <think>2+2=4</think>Answer: 4"
    s = split("q", text, THINK)
    assert s.status == "closed" and text[s.answer_start:] == "Answer: 4" and s.thinking_end == s.answer_start
    # never closed: no answer, however many numbers the thinking holds
    s = split("q<think>", "2+2 is 4, so the answer is 4", THINK)
    assert s.status == "unclosed" and s.answer_start is None and s.answer("x") is None
    # no block: the whole text is the answer; a quoted delimiter mid-answer opens nothing
    s = split("q", "The tag <think> is XML. 4", THINK)
    assert (s.status, s.answer_start) == ("none", 0)
    # a prompt whose block was closed (a few-shot turn) does not open the completion's
    assert split("<think>a</think> 1\nq", "7", THINK).status == "none"
    # an end without a start: a server-side template opened it (chat endpoint)
    assert split('[{"role": "user"}]', "hmm</think>5", THINK).answer("hmm</think>5") == "5"


def test_few_shot_turns_lose_their_thinking():
    assert strip_thinking("<think>long\nwork</think>\n\nThe answer is 3.", THINK) == "The answer is 3."
    assert strip_thinking("work</think>3", THINK) == "3"
    msgs = [{"role": "user", "content": "<think>kept</think>"},
            {"role": "assistant", "content": "<think>x</think>5"}]
    assert chat_messages(msgs, THINK) == [msgs[0], {"role": "assistant", "content": "5"}]
    keep = spec_for({"reasoning": {"preset": "think_tags", "strip_few_shot": False}})
    assert chat_messages(msgs, keep) == msgs and chat_messages(msgs, None) == msgs


def test_columns_and_answer_rows():
    prompts = ["q<think>", "q<think>", "q"]
    texts = ["a b</think> 7", "a b c", "7"]
    cols = columns(prompts, texts, THINK, lambda t: len(t.split()))
    assert cols == {"answer_start": [11, None, 0], "thinking_tokens": [2, 3, 0],
                    "thinking_status": ["closed", "unclosed", "none"]}
    rows = [{"text": t, "assistant_prefix": "<think>"} for t in texts]
    view, none = answer_rows(rows, list(zip(cols["answer_start"], cols["thinking_status"], strict=True)))
    assert [v["text"] for v in view] == [" 7", "", "7"] and none == {1: UNCLOSED_REASON}
    assert view[0]["assistant_prefix"] == "" and view[2]["assistant_prefix"] == "<think>"
    assert answer_rows(rows, None) == (rows, {})


def _config(reasoning=None):
    model = {"path": "m", "reasoning": reasoning} if reasoning else {"path": "m"}
    return validate({"models": {"m": model}, "datasets": {"d": {"loader": "jsonl", "args": {"path": "x.jsonl"}}},
                     "sampling": {"s": {}}})


def test_reasoning_enters_the_sampling_key_only_when_set(tmp_path):
    plain = sampling_key(_config(), "m", "d", "s", tmp_path)
    assert sampling_key(_config(None), "m", "d", "s", tmp_path) == plain
    as_name = sampling_key(_config("think_tags"), "m", "d", "s", tmp_path)
    as_map = sampling_key(_config({"start": "<think>", "end": "</think>"}), "m", "d", "s", tmp_path)
    assert as_name == as_map != plain
    assert sampling_key(_config({"preset": "qwen3"}), "m", "d", "s", tmp_path) != as_name


class ScriptedGenerator:
    """Replies with a fixed number of tokens per request ('t' words), stopping early where told."""

    def __init__(self, ends_at: dict[str, int]):
        self.ends_at, self.calls = ends_at, []

    def generate(self, requests: list[Request], progress: Progress, journal=None) -> list[Result]:
        self.calls.append(requests)
        out = []
        for r in requests:
            cap = r.params["max_tokens"]
            if "</think>" in r.params.get("stop", []):  # thinking: a sample ends after ends_at tokens
                n = min(cap, self.ends_at[r.problem_id])
                reason = "length" if n == cap else "stop"
            else:
                n, reason = 2, "stop"
            out.append(Result(" t" * n, reason, len(r.prompt), n, -0.5 * n))
        return out


def test_budget_forcing_cuts_and_extends_at_the_right_counts():
    problems = [SearchProblem("long", "q", "P<think>\n", row={"stop": ["\nQ:"]}),
                SearchProblem("short", "q", "P", row={})]
    gen = ScriptedGenerator({"long": 100, "short": 3})
    spec = SearchSpec(kind="budget_forcing", budget=2, thinking_budget=10, max_extensions=2,
                      params={"temperature": 0.5, "stop": ["###"]})
    seeds = []
    out = budget_forcing(problems, gen, None, spec, lambda p, t: seeds.append((p, t)) or len(seeds), reasoning=THINK)
    long, short = out.candidates
    for b in long:  # cut at exactly the budget in one call, no extension
        assert b.meta["thinking_tokens"] == 10 and b.meta["times_cut"] == 1 and b.meta["times_extended"] == 0
        assert b.text.startswith(" t" * 10 + "</think>\n\n")  # prompt opened the block: no opener
    for b in short:  # 3 tokens, extended twice (3 + 3 + 3 = 9 < 10), then closed by itself
        assert b.meta["thinking_tokens"] == 9 and b.meta["times_extended"] == 2 and b.meta["times_cut"] == 0
        assert b.text == "<think>\n" + " t t tWait" * 2 + " t t t</think>\n\n t t"
        assert b.meta["answer_start"] == len(b.text) - len(" t t")
        assert b.completion_tokens == 9 + 2 and b.meta["answer_tokens"] == 2
    # rounds: 4 thinking requests, then only the 2 short ones twice, then 4 answers in one call
    assert [len(c) for c in gen.calls] == [4, 2, 2, 4]
    assert [r.params["max_tokens"] for r in gen.calls[1]] == [7, 7] and gen.calls[2][0].params["max_tokens"] == 4
    assert all(r.params["stop"] == ["</think>"] and r.params["temperature"] == 0.5 for c in gen.calls[:3] for r in c)
    assert gen.calls[3][0].params["stop"] == ["###", "\nQ:"] and gen.calls[3][0].params["max_tokens"] == 256
    assert gen.calls[3][0].prompt.endswith("</think>\n\n")
    # accounting: every call of a problem counts
    assert out.accounting[1].completion_tokens == 2 * (9 + 2) and out.accounting[1].generator_calls == 8
    assert len(set(seeds)) == len(seeds)  # a distinct seed tag per call
    # a lower floor extends only thinking shorter than it
    gen2 = ScriptedGenerator({"long": 100, "short": 3})
    spec2 = SearchSpec(kind="budget_forcing", budget=1, thinking_budget=10, max_extensions=5, min_thinking=5)
    out2 = budget_forcing(problems, gen2, None, spec2, lambda p, t: 1, reasoning=THINK)
    assert out2.candidates[1][0].meta["thinking_tokens"] == 6 and out2.candidates[1][0].meta["times_extended"] == 1


def test_budget_forcing_needs_delimiters():
    with pytest.raises(ConfigError, match="models.<m>.reasoning"):
        budget_forcing([], ScriptedGenerator({}), None, SearchSpec(kind="budget_forcing", budget=1), lambda p, t: 1)

