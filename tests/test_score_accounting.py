"""Scorer and search bookkeeping with small fakes (no engines): per-item token accounting of the step
scorers over several search steps, Skywork-style newline separators under a chat template, prompts
too long for a PRM's engine, judge prompts with literal braces, and tracebacks in the job log."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ttscale.errors import ConfigError, DataError
from ttscale.generate.base import Result
from ttscale.score import generative, reward
from ttscale.score.base import Item
from ttscale.score.generative import GenerativeScorer
from ttscale.score.reward import OutcomeScorer, ProcessScorer
from ttscale.search.strategies import SearchProblem, SearchSpec, beam_search, dvts

SMOL = "resources/models/smollm2-135m-instruct"


class WordTokenizer:
    """One token per whitespace-separated word; the chat template joins the contents with spaces."""

    model_max_length = 100  # what the tokenizer claims; the engine's limit is what counts

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [self.vocab.setdefault(w, len(self.vocab)) for w in text.split()]

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool = False,
                            add_generation_prompt: bool = False) -> str:
        return " ".join(m["content"] for m in messages)


class FakeLLM:
    """Just enough of vllm.LLM: a tokenizer, the engine's max_model_len, and a classify that, like
    vLLM's input validation, fails the whole call when one prompt is longer than the limit."""

    def __init__(self, max_model_len: int = 10_000, tokenizer: Any = None) -> None:
        self.tokenizer = tokenizer or WordTokenizer()
        self.llm_engine = SimpleNamespace(model_config=SimpleNamespace(max_model_len=max_model_len))
        self.classified: list[int] = []

    def get_tokenizer(self) -> Any:
        return self.tokenizer

    def _check(self, prompts: list[dict[str, Any]]) -> None:
        limit = self.llm_engine.model_config.max_model_len
        for p in prompts:
            if len(p["prompt_token_ids"]) > limit:
                raise ValueError(f"prompt of {len(p['prompt_token_ids'])} tokens > max_model_len {limit}")

    def classify(self, prompts: list[dict[str, Any]], use_tqdm: bool = False) -> list[Any]:
        self._check(prompts)
        self.classified += [len(p["prompt_token_ids"]) for p in prompts]
        return [SimpleNamespace(outputs=SimpleNamespace(probs=[0.5])) for _ in prompts]


def fake_engine(llm: FakeLLM):
    def engine(*args: Any, **kwargs: Any) -> FakeLLM:
        return llm

    return engine


class Steps:
    """Step k of every beam is 'v=<slot>'; a beam ends (no delimiter) at its `end_after`-th step."""

    def __init__(self, end_after: int) -> None:
        self.end_after = end_after

    def generate(self, requests, progress, journal=None):
        out = []
        for r in requests:
            depth = r.prompt.count("v=")
            text = f"v={r.seed}" + ("" if depth + 1 >= self.end_after else "\n\n")
            out.append(Result(text, "stop", len(r.prompt), 2, -0.1))
        return out


def seeds(pid: str, tag: str) -> int:
    return int(tag.split("/")[-1])


# 'qa' is one word, 'qb extra' two; a step is one word. An item of s steps read prefix by prefix costs
# sum over j = 1..s of (question words + j) tokens.
PROBLEMS = [SearchProblem("a", "qa", "A:"), SearchProblem("b", "qb extra", "B:")]


def prefix_cost(question_words: int, steps: int) -> int:
    return sum(question_words + j for j in range(1, steps + 1))


def judge(monkeypatch, prompt: str = "{question} {response}", llm: FakeLLM | None = None) -> GenerativeScorer:
    monkeypatch.setattr(generative, "vllm_engine", fake_engine(llm or FakeLLM()))
    s = GenerativeScorer("judge", {"kind": "generative", "prompt": prompt}, {}, Path("."))
    monkeypatch.setattr(s, "_probabilities", lambda prompts: [0.5] * len(prompts))
    return s


def prefix_prm(monkeypatch, llm: FakeLLM | None = None, kind: type = ProcessScorer, **spec: Any):
    monkeypatch.setattr(reward, "vllm_engine", fake_engine(llm or FakeLLM()))
    return kind("prm", {"kind": "process", "readout": "prefix", **spec}, {}, Path("."))


@pytest.mark.parametrize("scorer_kind", ["generative", "process"])
def test_search_charges_each_problem_for_what_the_scorer_read(monkeypatch, scorer_kind):
    """Before: the judge gave one count per prefix (zip(strict=True) failed at step 2) and the PRM none."""
    scorer = judge(monkeypatch) if scorer_kind == "generative" else prefix_prm(monkeypatch)
    # beam: N=4, M=2, three steps; every step scores 4 beams of each problem, step k's beams have k+1 steps
    out = beam_search(PROBLEMS, Steps(3), scorer, SearchSpec("beam", budget=4, beam_width=2, max_steps=5), seeds)
    assert [len(c) for c in out.candidates] == [4, 4] and all(len(b.steps) == 3 for b in out.candidates[0])
    expected = [4 * sum(prefix_cost(q, s) for s in (1, 2, 3)) for q in (1, 2)]
    assert [a.scored_tokens for a in out.accounting] == expected == [64, 88]
    # the scorer reports one count per item of its last call
    assert scorer.last_token_counts == [prefix_cost(1, 3)] * 4 + [prefix_cost(2, 3)] * 4
    # dvts: 2 subtrees x 2 children per problem for 2 steps
    out = dvts(PROBLEMS, Steps(2), scorer, SearchSpec("dvts", budget=4, beam_width=2, max_steps=4), seeds)
    assert [a.scored_tokens for a in out.accounting] == [4 * (prefix_cost(q, 1) + prefix_cost(q, 2)) for q in (1, 2)]


def test_search_rejects_a_scorer_with_the_wrong_number_of_counts():
    class Miscounting:
        def score_steps(self, items):
            self.last_token_counts = [1] * (2 * len(items))  # one per prefix, as the judge did
            return [[0.5] * len(steps) for _, steps in items]

    with pytest.raises(ValueError, match="token counts for 16 items, not one per item of 8"):
        beam_search(PROBLEMS, Steps(2), Miscounting(), SearchSpec("beam", budget=4, beam_width=2), seeds)


def test_judge_counts_only_what_it_sends(monkeypatch):
    s = judge(monkeypatch, llm=FakeLLM(max_model_len=6))
    rows = s.score([Item("q", "one two"), Item("q", " "), Item("q", "w " * 10)])
    assert [r["status"] for r in rows] == ["ok", "empty", "too_long"] and s.last_token_counts == [3, 0, 0]


# -- Skywork-style "\n" separators ------------------------------------------------------------------

@pytest.fixture(scope="module")
def smol_tokenizer(repo):
    path = repo / SMOL
    if not (path / "tokenizer.json").exists():
        pytest.skip(f"{SMOL} is not built (tests/conftest.py's embedded_model builds it)")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


class StepPoolLLM(FakeLLM):
    """vLLM's STEP pooling: one row per step-tag token of the prompt, in order; the row holds the
    token's position so a test sees which tokens were read."""

    def __init__(self, tokenizer: Any, step_tag_id: int) -> None:
        super().__init__(10_000, tokenizer)
        self.step_tag_id = step_tag_id

    def encode(self, prompts: list[dict[str, Any]], pooling_task: str = "", use_tqdm: bool = False) -> list[Any]:
        import torch

        self._check(prompts)
        out = []
        for p in prompts:
            pos = [k for k, t in enumerate(p["prompt_token_ids"]) if t == self.step_tag_id]
            data = torch.tensor([[float(k), 0.0] for k in pos])
            out.append(SimpleNamespace(outputs=SimpleNamespace(data=data)))
        return out


def skywork_spec(backend: str) -> dict[str, Any]:
    return {"family": "skywork-prm", "kind": "process", "readout": "token_classify", "step_separator_token": "\n",
            "step_separator": "\n\n", "label": 0, "backend": backend, "aggregation": "last"}


def expected_positions(tok, text: str, steps: list[str]) -> list[int]:
    """Independently: the token that ends each step's newline is the last token of the text up to it."""
    body = "".join(f"{s}\n" for s in steps)
    start, ends = text.rindex(body), []
    for s in steps:
        start += len(s) + 1
        ends.append(len(tok(text[:start], add_special_tokens=False)["input_ids"]) - 1)
    return ends


@pytest.mark.parametrize("backend", ["vllm", "transformers"])
def test_newline_separator_reads_only_the_response_step_ends(monkeypatch, smol_tokenizer, backend):
    """Before: every ChatML newline counted as a step end (8 for 2 steps), so every sample was an error."""
    import torch

    newline = smol_tokenizer.encode("\n", add_special_tokens=False)[0]
    monkeypatch.setattr(reward._RewardScorer, "_tokenizer", lambda self: smol_tokenizer)
    monkeypatch.setattr(reward, "vllm_engine", fake_engine(StepPoolLLM(smol_tokenizer, newline)))

    def load_transformers(self) -> None:  # the transformers path without the weights
        self.tokenizer = smol_tokenizer
        self.sep_id = self._single_token("\n")

    monkeypatch.setattr(reward._RewardScorer, "_load_transformers", load_transformers)
    prm = ProcessScorer("sky", skywork_spec(backend), {}, Path("."))
    if backend == "transformers":  # a value head whose logit is the token position / 100
        def forward(texts):
            n = [len(smol_tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
            return [torch.arange(k, dtype=torch.float32).reshape(-1, 1) / 100 for k in n]

        monkeypatch.setattr(prm, "_forward", forward)
    item = Item("What is\n2 + 3?", "2 + 3 = 5.\n\nThe answer\nis 5.")
    steps = ["2 + 3 = 5.", "The answer is 5."]  # the newline inside a step became a space
    text = prm._separated(item.question, ["2 + 3 = 5.", "The answer\nis 5."])
    ids = smol_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids.count(newline) > 2  # the template's own newlines are there to be mistaken for step ends
    want = expected_positions(smol_tokenizer, text, steps)
    read = (lambda k: float(k)) if backend == "vllm" else (lambda k: float(torch.sigmoid(torch.tensor(k / 100))))
    rows = prm.score([item])
    assert rows[0]["status"] == "ok"
    assert rows[0]["step_scores"] == pytest.approx([read(k) for k in want])
    assert [ids[k] for k in want] == [newline, newline]
    assert prm.score_steps([(item.question, steps)]) == [pytest.approx([read(k) for k in want])]


def test_separator_token_still_reads_every_step(monkeypatch, smol_tokenizer):
    """A dedicated separator (Qwen2.5-Math-PRM's <extra_0>, the test PRM's <file_sep>) is unchanged."""
    sep = smol_tokenizer.convert_tokens_to_ids("<file_sep>")
    monkeypatch.setattr(reward, "vllm_engine", fake_engine(StepPoolLLM(smol_tokenizer, sep)))
    monkeypatch.setattr(reward._RewardScorer, "_tokenizer", lambda self: smol_tokenizer)
    prm = ProcessScorer("p", {"kind": "process", "readout": "token_classify", "step_separator_token": "<file_sep>",
                              "label": 0}, {}, Path("."))
    text = prm._separated("Q?", ["a", "b", "c"])
    ids = smol_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert prm.score_steps([("Q?", ["a", "b", "c"])]) == [[float(k) for k, t in enumerate(ids) if t == sep]]


# -- too long for the PRM's engine ------------------------------------------------------------------

def test_process_scorer_marks_too_long_by_the_engine_limit(monkeypatch):
    """Before: no check, so one long sample failed vLLM's validation and with it the whole shard."""
    llm = FakeLLM(max_model_len=6)  # the tokenizer claims 100
    prm = prefix_prm(monkeypatch, llm)
    assert prm.max_len == 6
    items = [Item("q", "a\n\nb"), Item("q", ""), Item("q", "one two three four five six")]
    rows = prm.score(items)
    assert [r["status"] for r in rows] == ["ok", "empty", "too_long"]
    assert rows[0]["step_scores"] == [0.5, 0.5] and rows[2]["score"] is None and llm.classified == [2, 3]
    with pytest.raises(DataError, match="1 of 2 search beams are longer than the scorer's max_model_len 6"):
        prm.score_steps([("q", ["a"]), ("q", ["one two three four five six"])])


def test_outcome_scorer_takes_the_limit_from_the_engine(monkeypatch):
    orm = prefix_prm(monkeypatch, FakeLLM(max_model_len=6), kind=OutcomeScorer, readout="classify")
    rows = orm.score([Item("q", "a b"), Item("q", "w " * 10)])
    assert orm.max_len == 6 and [r["status"] for r in rows] == ["ok", "too_long"]


# -- judge prompts with literal braces --------------------------------------------------------------

def test_judge_prompt_with_literal_braces_is_a_config_error(monkeypatch):
    def no_engine(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the prompt is checked before the engine loads")

    monkeypatch.setattr(generative, "vllm_engine", no_engine)
    for prompt in ("Answer in \\boxed{}: {question} {response}", "{question} {answer}", "{question} {"):
        with pytest.raises(ConfigError, match=r"scorers\.j\.prompt: .*doubled"):
            GenerativeScorer("j", {"kind": "generative", "prompt": prompt}, {}, Path("."))
    s = judge(monkeypatch, prompt="Put it in \\boxed{{}}. {question} {response}")
    assert s.render("Q", "R") == "Put it in \\boxed{}. Q R"


# -- the Snakemake adapter --------------------------------------------------------------------------

@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in root.handlers:
        if h not in handlers:
            h.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_run_script_logs_unexpected_errors_with_traceback(tmp_path, restore_logging):
    """Before: only TtscaleError reached the job's log; a bug's traceback went to Snakemake's stderr only."""
    from ttscale.errors import DataError
    from ttscale.snake import run_script

    logfile = tmp_path / "logs" / "job.log"
    job = SimpleNamespace(log=[str(logfile)], rule="score", wildcards={"block": "s0"})

    def broken() -> None:
        raise KeyError("no such column")

    with pytest.raises(KeyError):
        run_script(job, broken)
    text = logfile.read_text()
    assert "rule score failed" in text and "Traceback" in text and "KeyError: 'no such column'" in text

    def user_error() -> None:
        raise DataError("shard.parquet: wrong columns")

    with pytest.raises(SystemExit) as exc:
        run_script(job, user_error)
    assert exc.value.code == 1
    tail = logfile.read_text()[len(text):]
    assert "shard.parquet: wrong columns" in tail and "Traceback" not in tail
