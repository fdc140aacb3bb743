"""Generative verifiers: a judge model's probability of "Yes" to a verification prompt.

The judge sees the question and the response in a configurable prompt, and the score is
P(yes) / (P(yes) + P(no)) over the first token it would write, read from the top-20
log-probabilities (vLLM offline, or any OpenAI-compatible server that returns logprobs).
As a step scorer (for search), it judges each prefix of a solution the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ttscale.errors import ConfigError
from ttscale.score.base import Item, Scorer, row
from ttscale.score.engines import scorer_path, vllm_engine

PROMPT = ("Question:\n{question}\n\nProposed answer:\n{response}\n\n"
          "Is the proposed answer correct? Answer Yes or No.")
TOP = 20


class GenerativeScorer(Scorer):
    kind = "generative"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        s = self.spec
        self.template = s.get("prompt") or PROMPT
        self._check_template()
        self.yes = list(s.get("yes") or ["Yes", " Yes", "yes", " yes", "YES"])
        self.no = list(s.get("no") or ["No", " No", "no", " no", "NO"])
        self.backend = s.get("backend") or "vllm"
        if self.backend == "vllm":
            self.llm = vllm_engine(self.name, s, self.config, self.root, self.threads)
            self.tokenizer = self.llm.get_tokenizer()
            self.max_len = self.llm.llm_engine.model_config.max_model_len
        else:
            from transformers import AutoTokenizer

            self.llm = None
            self.tokenizer = AutoTokenizer.from_pretrained(scorer_path(self.name, s, self.config, self.root))
            self.max_len = int(s.get("max_model_len") or 4096)
        self.yes_ids = self._first_ids(self.yes)
        self.no_ids = self._first_ids(self.no)
        self.last_token_counts: list[int] = []  # tokens the judge read per item of the last call (search cost)

    def _check_template(self) -> None:
        """Fail at load time with the key to fix: a literal brace (`\\boxed{}`) would otherwise make
        str.format raise a bare IndexError on the first item, after the engine has loaded."""
        try:
            self.template.format(question="", response="")
        except (IndexError, KeyError, ValueError, AttributeError) as exc:
            raise ConfigError(
                f"scorers.{self.name}.prompt: not a valid template ({type(exc).__name__}: {exc}); its only fields "
                "are {question} and {response}, write literal braces doubled, e.g. \\boxed{{}}") from None

    def _first_ids(self, words: list[str]) -> set[int]:
        """Token ids of the words that are single tokens (a multi-token word's first piece is ambiguous)."""
        ids = {tuple(self.tokenizer.encode(w, add_special_tokens=False)) for w in words}
        single = {i[0] for i in ids if len(i) == 1}
        if not single:
            raise ValueError(f"scorers.{self.name}: none of {words} is a single token of the judge's tokenizer")
        return single

    def render(self, question: str, response: str) -> str:
        msg = self.template.format(question=question, response=response)
        text = self.tokenizer.apply_chat_template([{"role": "user", "content": msg}], tokenize=False,
                                                  add_generation_prompt=True)
        return text + (self.spec.get("assistant_prefix") or "")

    def _probabilities(self, prompts: list[list[int]]) -> list[float | None]:
        if self.backend == "vllm":
            from vllm import SamplingParams

            outs = self.llm.generate([{"prompt_token_ids": p} for p in prompts],
                                     SamplingParams(max_tokens=1, temperature=0.0, logprobs=TOP), use_tqdm=False)
            tops = [{tid: lp.logprob for tid, lp in o.outputs[0].logprobs[0].items()} for o in outs]
            return [self._yes_share(t, self.yes_ids, self.no_ids) for t in tops]
        return self._openai(prompts)

    @staticmethod
    def _yes_share(top: dict[Any, float], yes: set, no: set) -> float | None:
        p_yes = sum(math.exp(lp) for t, lp in top.items() if t in yes)
        p_no = sum(math.exp(lp) for t, lp in top.items() if t in no)
        return p_yes / (p_yes + p_no) if p_yes + p_no > 0 else None

    def _openai(self, prompts: list[list[int]]) -> list[float | None]:
        import openai

        oa = {"base_url": "http://127.0.0.1:8000/v1", **(self.spec.get("openai") or {})}
        client = openai.OpenAI(base_url=oa["base_url"], api_key=oa.get("api_key") or "EMPTY",
                               max_retries=int(oa.get("max_retries", 6)))
        model = oa.get("model") or self.spec.get("path")
        out = []
        for p in prompts:
            resp = client.completions.create(model=model, prompt=self.tokenizer.decode(p), max_tokens=1,
                                             temperature=0, logprobs=TOP)
            top = (resp.choices[0].logprobs.top_logprobs or [{}])[0]
            out.append(self._yes_share(top, set(self.yes), set(self.no)))
        return out

    def _score_texts(self, texts: list[str]) -> tuple[list[float | None], list[str], list[int]]:
        """Scores, statuses and the tokens the judge read for each text (0 for one too long to send)."""
        ids = [self.tokenizer.encode(t, add_special_tokens=False) for t in texts]
        status = ["too_long" if len(i) >= self.max_len - 1 else "ok" for i in ids]
        todo = [k for k, s in enumerate(status) if s == "ok"]
        probs = self._probabilities([ids[k] for k in todo]) if todo else []
        scores: list[float | None] = [None] * len(texts)
        for k, p in zip(todo, probs, strict=True):
            scores[k] = p
            if p is None:
                status[k] = "error"
        return scores, status, [len(i) if st != "too_long" else 0 for i, st in zip(ids, status, strict=True)]

    def score(self, items: list[Item]) -> list[dict[str, Any]]:
        idx = [k for k, it in enumerate(items) if it.response.strip()]
        scores, status, counts = self._score_texts([self.render(items[k].question, items[k].response) for k in idx])
        out = [row(None, "empty") for _ in items]
        self.last_token_counts = [0] * len(items)
        for k, sc, st, n in zip(idx, scores, status, counts, strict=True):
            out[k] = row(sc, st)
            self.last_token_counts[k] = n
        return out

    def score_steps(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        """Per-step scores for search: the judge's P(yes) for every prefix of the steps.

        `last_token_counts` gets one count per item, summed over its prefixes, so the search can
        charge each problem for what the judge read on its behalf.
        """
        texts, owner = [], []
        for i, (question, steps) in enumerate(items):
            for j in range(len(steps)):
                texts.append(self.render(question, "\n\n".join(steps[: j + 1])))
                owner.append(i)
        scores, _, counts = self._score_texts(texts)
        out: list[list[float]] = [[] for _ in items]
        read = [0] * len(items)
        for i, s, n in zip(owner, scores, counts, strict=True):
            out[i].append(0.0 if s is None else s)
            read[i] += n
        self.last_token_counts = read
        return out

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "backend": self.backend, "prompt": self.template}

    def close(self) -> None:
        from ttscale.engine import release

        if self.llm is not None:
            release(self.llm)
            self.llm = None


class LogprobScorer(Scorer):
    """The model's own cumulative log-probability, or per token with `normalize: true`: free baselines."""

    kind = "logprob"

    def score(self, items: list[Item]) -> list[dict[str, Any]]:
        out = []
        for it in items:
            if it.cumulative_logprob is None or not it.completion_tokens:
                out.append(row(None, "empty"))
                continue
            lp = it.cumulative_logprob
            out.append(row(lp / it.completion_tokens if self.spec.get("normalize") else lp))
        return out
