"""The generate stage's requests and their bookkeeping: dotted preset names,
the OpenAI backend's request bodies, torn resume journals, resume rates and prompt errors.

No engine: the scripted backend, the fake OpenAI server and a fake client stand in.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import test_generate
from fakes import FakeOpenAIServer, ScriptedBackend
from test_generate import _openai, _Tok

from ttscale import route
from ttscale.config import validate
from ttscale.errors import ConfigError
from ttscale.generate import Request, run_block
from ttscale.generate.openai_backend import OpenAIBackend, _read_journal
from ttscale.generate.progress import Progress
from ttscale.io import read_metadata, read_table, write_table
from ttscale.keys import sampling_key
from ttscale.plan import runs
from ttscale.problems import build_problems
from ttscale.schemas import PROBLEMS, SAMPLES
from ttscale.seeds import sample_seed

setup = test_generate.setup  # the fixture: a 3-problem dataset "d", preset "s", model "m"
DATASET = {"loader": "reasoning_gym", "args": {"task": "basic_arithmetic", "size": 3}}


# -- 1: a preset name with "." is not a search run ---------------------------------------------


def test_dotted_preset_names_run_as_sampling_and_strategies_still_search(tmp_path: Path):
    """`t0.8` and even `rev.n4` (spelled like strategy rev's run at N=4) are plain presets."""
    config = validate({
        "experiment": "t",
        "models": {"m": {"path": str(tmp_path), "backend": "vllm"}},  # never built: a backend is passed
        "datasets": {"d": DATASET},
        "sampling": {"t0.8": {"temperature": 0.8, "max_tokens": 8}, "rev.n4": {"temperature": 0.5}},
        "strategies": {"rev": {"kind": "revisions", "budgets": [4], "rounds": 2, "step_tokens": 8}},
    })
    problems = tmp_path / "d.parquet"
    write_table(problems, build_problems("d", config["datasets"]["d"], tmp_path), PROBLEMS)
    seen = {}
    for run in runs(config, tmp_path):
        out = tmp_path / f"{run.key}.parquet"
        route.run_block(config, run.model, run.dataset, run.key, run.blocks[0].name, problems, out, root=tmp_path,
                        backend=ScriptedBackend())
        seen[run.key] = read_metadata(out).get("strategy")
    assert seen == {sampling_key(config, "m", "d", "t0.8", tmp_path): None,
                    sampling_key(config, "m", "d", "rev.n4", tmp_path): None,
                    next(r.key for r in runs(config, tmp_path) if r.strategy): "rev"}


# -- 2-4: the OpenAI backend's request bodies --------------------------------------------------


def _backend(tmp_path: Path, endpoint: str) -> OpenAIBackend:
    return OpenAIBackend("m", {"path": str(tmp_path), "openai": {"endpoint": endpoint}}, tmp_path)


class _Client:
    """Records what the SDK would send (`create(**standard, extra_body=...)`)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.chat = SimpleNamespace(completions=self)
        self.completions = self

    async def create(self, **kwargs: Any) -> SimpleNamespace:
        self.calls.append(kwargs)
        data = {"choices": [{"message": {"content": "x"}, "text": "x", "finish_reason": "stop"}], "usage": {}}
        return SimpleNamespace(model_dump=lambda: data)


def _send(backend: OpenAIBackend, request: Request) -> dict[str, Any]:
    client = _Client()
    asyncio.run(backend._one(client, request, asyncio.Semaphore(1)))
    return client.calls[0]


@pytest.mark.parametrize("prefix", ["```python\n", ""])
def test_chat_assistant_prefix_is_continued(tmp_path: Path, prefix: str):
    backend = _backend(tmp_path, "chat")
    row = {"messages": json.dumps([{"role": "user", "content": "q"}]), "assistant_prefix": prefix}
    prompt, messages, special = backend.render(row)
    sent = _send(backend, Request("p", 0, 7, prompt, messages, special, {"max_tokens": 8}))
    extra = sent.get("extra_body") or {}
    if prefix:
        assert sent["messages"][-1] == {"role": "assistant", "content": prefix}
        assert extra["continue_final_message"] is True and extra["add_generation_prompt"] is False
    else:
        assert "continue_final_message" not in extra and "add_generation_prompt" not in extra


@pytest.mark.parametrize("special", [False, True])
def test_completions_send_add_special_tokens(tmp_path: Path, special: bool):
    sent = _send(_backend(tmp_path, "completions"), Request("p", 0, 7, "<bos>chat", None, special, {}))
    assert sent["extra_body"]["add_special_tokens"] is special


@pytest.mark.parametrize(("params", "sent"), [
    ({"top_k": 1, "min_p": 1.0}, {"top_k": 1, "min_p": 1.0}),
    ({"top_k": 0, "min_p": 0.0, "repetition_penalty": 1.0}, {}),
    ({"top_k": -1, "min_p": None, "repetition_penalty": None}, {}),
    ({"top_k": 20, "min_p": 0.05, "repetition_penalty": 1.1}, {"top_k": 20, "min_p": 0.05, "repetition_penalty": 1.1}),
    ({"repetition_penalty": 0.9}, {"repetition_penalty": 0.9}),
])
def test_sampling_extras_are_dropped_only_when_off(tmp_path: Path, params: dict, sent: dict):
    body = _backend(tmp_path, "completions")._body(Request("p", 0, 7, "x", None, False, params))
    assert {k: body[k] for k in ("top_k", "min_p", "repetition_penalty") if k in body} == sent


def test_extras_reach_the_server(tmp_path: Path):
    backend = OpenAIBackend("m", {"path": str(tmp_path)}, tmp_path)
    with FakeOpenAIServer() as server:
        backend.settings["base_url"] = server.url
        backend.generate([Request("p", 0, 7, "x", None, False, {"top_k": 1, "min_p": 1.0})], Progress(1))
    body = server.served[0]
    assert body["top_k"] == 1 and body["min_p"] == 1.0 and body["add_special_tokens"] is False


# -- 5: the resume journal -----------------------------------------------------------------------


def _record(i: int, tokens: int = 2) -> str:
    return json.dumps({"problem_id": "p", "sample_index": i, "seed": 100 + i, "text": f"old {i}",
                       "finish_reason": "stop", "prompt_tokens": 1, "completion_tokens": tokens,
                       "cumulative_logprob": None, "latency_s": 0.1}) + "\n"


def _generate(tmp_path: Path, journal: Path, n: int) -> FakeOpenAIServer:
    backend = OpenAIBackend("m", {"path": str(tmp_path), "openai": {"concurrency": 1}}, tmp_path)
    with FakeOpenAIServer() as server:
        backend.settings["base_url"] = server.url
        requests = [Request("p", i, 100 + i, "x", None, False, {}) for i in range(n)]
        results = backend.generate(requests, Progress(n), journal=journal)
    assert [r.text for r in results[:2]] == ["old 0", "old 1"]
    return server


def test_torn_journal_line_does_not_swallow_the_next_record(tmp_path: Path, caplog):
    journal = tmp_path / "j.jsonl"
    journal.write_text(_record(0) + _record(1) + _record(2)[:25])  # killed while writing record 2
    server = _generate(tmp_path, journal, 4)
    assert len(server.served) == 2  # 2 (torn) and 3
    with caplog.at_level(logging.WARNING):
        done = _read_journal(journal)
    assert sorted(k[1] for k in done) == [0, 1, 2, 3]  # every record survives the next resume
    assert f"{journal}:3" in caplog.text


def test_invalid_journal_record_is_skipped_with_its_location(tmp_path: Path, caplog):
    journal = tmp_path / "j.jsonl"
    bad = json.dumps({"problem_id": "p", "sample_index": 2, "seed": 102, "text": "x", "bogus": 1})
    journal.write_text(_record(0) + _record(1) + bad + "\n" + "[1, 2]\n")
    with caplog.at_level(logging.WARNING):
        server = _generate(tmp_path, journal, 3)
    assert len(server.served) == 1  # only request 2 is redone
    assert f"{journal}:3" in caplog.text and f"{journal}:4" in caplog.text


# -- 7: the rate after a resume ------------------------------------------------------------------


def test_tokens_per_second_counts_only_this_runs_tokens(setup, monkeypatch):
    config, problems, _, root = setup
    monkeypatch.setattr(OpenAIBackend, "tokenizer", _Tok())
    out = root / "r.parquet"
    block = "p00000-00003_s000000-000002"
    pids = [r["problem_id"] for r in sorted(read_table(problems, PROBLEMS).to_pylist(), key=lambda r: r["position"])]
    restored = [(pid, i) for pid in pids for i in range(2)][:5]
    big = 10**6
    (root / ".r.parquet.journal.jsonl").write_text("".join(
        json.dumps({"problem_id": pid, "sample_index": i, "seed": sample_seed(config["seed"], "m", "d", pid, i),
                    "text": "old", "finish_reason": "stop", "prompt_tokens": 1, "completion_tokens": big,
                    "cumulative_logprob": None, "latency_s": 0.1}) + "\n"
        for pid, i in restored))
    with FakeOpenAIServer() as server:
        c = _openai(config, server.url)
        summary = run_block(c, "m", "d", sampling_key(c, "m", "d", "s", root), block, problems, out, root=root)
    assert len(server.served) == 1 and read_table(out, SAMPLES).num_rows == 6
    assert summary["completion_tokens"] == 5 * big + 2
    # 2 new tokens: rate x time is about 2 (seconds are rounded to ms); the restored 5e6 would give 5e6
    assert 0 < summary["tokens_per_second"] * max(summary["seconds"], 0.001) < 10


# -- 6: prompt errors name the config key or the file line ---------------------------------------


def _dataset(tmp_path: Path, prompt: dict) -> dict:
    """Dataset `arith` with `prompt`, defaults filled in by the schema."""
    config = validate({"experiment": "t", "models": {"m": {"path": str(tmp_path)}},
                       "datasets": {"arith": {**DATASET, "prompt": prompt}}, "sampling": {"s": {}}})
    return config["datasets"]["arith"]


@pytest.mark.parametrize(("prompt", "key", "what"), [
    ({"template": "Solve {}"}, "datasets.arith.prompt.template", "positional"),
    ({"template": "Solve {question"}, "datasets.arith.prompt.template", "expected '}'"),
    ({"template": "{nope}"}, "datasets.arith.prompt.template", "uses {nope}"),
    ({"assistant_prefix": "def f() {"}, "datasets.arith.prompt.assistant_prefix", "literal braces"),
    ({"assistant_prefix": "{missing}"}, "datasets.arith.prompt.assistant_prefix", "uses {missing}"),
])
def test_bad_template_names_the_dataset_key(tmp_path: Path, prompt: dict, key: str, what: str):
    with pytest.raises(ConfigError, match=f"^{re.escape(key)}: ") as err:
        build_problems("arith", _dataset(tmp_path, prompt), tmp_path)
    assert what in str(err.value)


@pytest.mark.parametrize("line", ['{"question": "1+1", "answer": ', '["question", "answer"]'])
def test_bad_few_shot_line_names_file_and_line(tmp_path: Path, line: str):
    few = tmp_path / "few.jsonl"
    few.write_text('{"question": "2+2", "answer": "4"}\n' + line + "\n")
    with pytest.raises(ConfigError, match=f"^{re.escape(str(few))}:2: "):
        build_problems("arith", _dataset(tmp_path, {"few_shot_file": str(few)}), tmp_path)
