"""Outcome and process reward models, through vLLM's pooling runner or transformers.

The family entry (ttscale.models.families) says how to render the input and read the score; the
backend (`vllm` by default, `transformers` where vLLM lacks the architecture) only runs the model.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from typing import Any

from ttscale.errors import ConfigError, DataError
from ttscale.score.base import DEFAULT_AGGREGATION, Item, Scorer, row, split_steps
from ttscale.score.engines import scorer_path, vllm_engine

log = logging.getLogger(__name__)


class _RewardScorer(Scorer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        s = self.spec
        self.readout = s.get("readout", "classify")
        self.backend = s.get("backend") or "vllm"
        if self.backend not in ("vllm", "transformers"):
            raise ConfigError(f"scorers.{self.name}.backend: {self.backend!r} is not vllm or transformers")
        self.llm = self.model = None
        self._load()

    # -- engines ------------------------------------------------------------------------------
    def _load(self) -> None:
        s = self.spec
        if self.backend == "vllm" and self.readout in ("classify", "prefix"):
            self.llm = vllm_engine(self.name, s, self.config, self.root, self.threads, runner="pooling",
                                   pooler={"use_activation": bool(s.get("activation", True))})
            self.tokenizer = self.llm.get_tokenizer()
        elif self.backend == "vllm" and self.readout == "token_classify":
            self.tokenizer = self._tokenizer()
            self.sep_id = self._single_token(s["step_separator_token"])
            self.llm = vllm_engine(self.name, s, self.config, self.root, self.threads, runner="pooling",
                                   pooler={"pooling_type": "STEP", "step_tag_id": self.sep_id})
        else:
            self._load_transformers()
        if self.llm is not None:  # the limit vLLM enforces (it rejects a longer prompt, failing the whole batch)
            self.max_len = int(self.llm.llm_engine.model_config.max_model_len)
        else:
            self.max_len = int(self.spec.get("max_model_len") or getattr(self.tokenizer, "model_max_length", 4096))
            if self.max_len > 1_000_000:
                self.max_len = 4096

    def _tokenizer(self):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(scorer_path(self.name, self.spec, self.config, self.root),
                                             trust_remote_code=bool(self.spec.get("trust_remote_code")))

    def _single_token(self, text: str) -> int:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            raise ConfigError(f"scorers.{self.name}: {text!r} must be one token of the scorer's tokenizer, "
                              f"it is {len(ids)}")
        return ids[0]

    def _load_transformers(self) -> None:
        import torch
        import transformers

        path = scorer_path(self.name, self.spec, self.config, self.root)
        remote = bool(self.spec.get("trust_remote_code"))
        self.tokenizer = self._tokenizer()
        cls = {"classify": transformers.AutoModelForSequenceClassification,
               "prefix": transformers.AutoModelForSequenceClassification,
               "token_classify": transformers.AutoModelForTokenClassification,
               "token_pair": transformers.AutoModelForCausalLM}[self.readout]
        torch.set_num_threads(max(1, self.threads or 1))
        self.model = cls.from_pretrained(path, dtype=torch.float32, trust_remote_code=remote).eval()
        if self.readout == "token_pair":
            self.good = self._single_token(self.spec.get("good_token", "+"))
            self.bad = self._single_token(self.spec.get("bad_token", "-"))
        if self.readout == "token_classify":
            self.sep_id = self._single_token(self.spec["step_separator_token"])

    def _forward(self, texts: list[str]):
        """One forward pass per text (no padding effects on the scores). Models whose own code
        returns a `score` field (ArmoRM) give that instead of the logits."""
        import torch

        out = []
        for text in texts:
            ids = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)
            with torch.no_grad():
                res = self.model(**ids)
            score = getattr(res, "score", None)
            out.append(score.reshape(-1) if score is not None else res.logits[0])
        return out

    # -- rendering ----------------------------------------------------------------------------
    def chat(self, question: str, response: str) -> str:
        messages = []
        if self.spec.get("system"):
            messages.append({"role": "system", "content": self.spec["system"]})
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": response}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False)

    # -- outcome read-out ---------------------------------------------------------------------
    def outcome(self, pairs: list[tuple[str, str]]) -> list[float]:
        return self._classify([self.chat(q, r) for q, r in pairs])

    def _classify(self, texts: list[str]) -> list[float]:
        if self.llm is not None:
            # token ids: the chat template already holds the special tokens (no double BOS)
            prompts = [{"prompt_token_ids": self.tokenizer.encode(t, add_special_tokens=False)} for t in texts]
            outs = self.llm.classify(prompts, use_tqdm=False)
            return [float(o.outputs.probs[0]) for o in outs]
        vals = []
        for logits in self._forward(texts):
            x = float(logits.flatten()[0]) if logits.numel() == 1 else logits.flatten()
            if isinstance(x, float):
                vals.append(1 / (1 + math.exp(-x)) if self.spec.get("activation", True) else x)
            else:
                p = x.softmax(-1) if self.spec.get("activation", True) else x
                vals.append(float(p[int(self.spec.get("label", 1))]))
        return vals

    # -- process read-outs --------------------------------------------------------------------
    def _inputs(self, question: str, steps: Sequence[str]) -> list[str]:
        """The texts a process read-out sends the model for one item: one per prefix for `prefix`."""
        if self.readout == "prefix":
            return [self.chat(question, "\n\n".join(steps[: j + 1])) for j in range(len(steps))]
        if self.readout == "token_classify":
            return [self._separated(question, steps)]
        if self.readout == "token_pair":
            return [self._tagged(question, steps)[0]]
        raise ConfigError(f"scorers.{self.name}.readout: {self.readout!r} is not a process read-out")

    def input_lengths(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[int]]:
        """Token lengths of each item's inputs: the longest must fit the model, their sum is the cost."""
        return [[len(self.tokenizer.encode(t, add_special_tokens=False)) for t in self._inputs(q, steps)]
                for q, steps in items]

    def steps_scores(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[float] | None]:
        if self.readout == "prefix":
            flat, owner = [], []
            for i, (q, steps) in enumerate(items):
                flat += self._inputs(q, steps)
                owner += [i] * len(steps)
            vals = self._classify(flat) if flat else []
            out: list[list[float] | None] = [[] for _ in items]
            for i, v in zip(owner, vals, strict=True):
                out[i].append(v)  # type: ignore[union-attr]
            return out
        if self.readout == "token_classify":
            return self._token_classify(items)
        if self.readout == "token_pair":
            return self._token_pair(items)
        raise ConfigError(f"scorers.{self.name}.readout: {self.readout!r} is not a process read-out")

    def _separated(self, question: str, steps: Sequence[str]) -> str:
        """Steps each followed by the separator token; a separator inside a step or the question
        (a newline for Skywork-PRM) would read as an extra step end, so it becomes a space there."""
        sep = self.spec["step_separator_token"]
        clean = [s.replace(sep, " ") for s in steps]
        return self.chat(question.replace(sep, " "), "".join(f"{s}{sep}" for s in clean))

    def _step_ends(self, text: str, steps: Sequence[str]) -> list[int] | None:
        """Which separator tokens of `text` (counted in order) end a step of the response.

        The chat template may hold the separator too (ChatML's newlines for Skywork-PRM's "\\n"),
        so only a separator token whose characters are a step's own separator counts, found by
        the tokenizer's offsets as `_tagged` does. None if the template changed the response
        (trimmed it, say) or a separator merged into another token: the read-out is an error.
        """
        sep = self.spec["step_separator_token"]
        clean = [s.replace(sep, " ") for s in steps]
        body = "".join(f"{s}{sep}" for s in clean)
        start = text.rfind(body)  # the response comes after the question in every template
        if start < 0:
            return None
        ends, pos = [], start
        for s in clean:
            pos += len(s)
            ends.append(pos)  # where this step's separator begins
            pos += len(sep)
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        seps = [(a, b) for t, (a, b) in zip(enc["input_ids"], enc["offset_mapping"], strict=True) if t == self.sep_id]
        keep = [next((n for n, (a, b) in enumerate(seps) if a <= e < b), None) for e in ends]
        return None if None in keep else keep  # type: ignore[return-value]

    def _token_classify(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[float] | None]:
        label = int(self.spec.get("label", 1))
        texts = [self._separated(q, steps) for q, steps in items]
        out: list[list[float] | None] = []
        if self.llm is not None:
            prompts = [{"prompt_token_ids": self.tokenizer.encode(t, add_special_tokens=False)} for t in texts]
            outs = self.llm.encode(prompts, pooling_task="token_classify", use_tqdm=False)
            rows = [o.outputs.data for o in outs]  # STEP pooling: one row per separator token, in order
        else:
            rows = []
            for text, logits in zip(texts, self._forward(texts), strict=True):
                ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
                at = logits[[k for k, t in enumerate(ids) if t == self.sep_id]]
                # a value head (one output, Skywork-PRM) is a sigmoid; a 2-class head a softmax
                rows.append(at.sigmoid().repeat(1, 2) if at.shape[-1] == 1 else at.softmax(-1))
        for (_, steps), text, data in zip(items, texts, rows, strict=True):
            keep = self._step_ends(text, steps)  # one separator index per step, or None
            if keep is None or data is None or max(keep, default=-1) >= len(data):
                out.append(None)
            else:
                out.append([float(data[k, label]) for k in keep])
        return out

    def _token_pair(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[float] | None]:
        texts, positions = [], []
        for q, steps in items:
            text, pos = self._tagged(q, steps)
            texts.append(text)
            positions.append(pos)
        out: list[list[float] | None] = []
        for logits, pos, (_, steps) in zip(self._forward(texts), positions, items, strict=True):
            if len(pos) != len(steps):
                out.append(None)
                continue
            pair = logits[pos][:, [self.good, self.bad]].softmax(-1)
            out.append([float(x) for x in pair[:, 0]])
        return out

    def _tagged(self, question: str, steps: Sequence[str]) -> tuple[str, list[int]]:
        """The input and the token positions whose next-token distribution judges each step."""
        fmt = self.spec.get("format", "tagged")
        if fmt == "conversation":
            messages: list[dict[str, str]] = []
            positions = []
            for j, step in enumerate(steps):
                messages.append({"role": "user", "content": f"{question} {step}" if j == 0 else step})
                prefix = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
                positions.append(len(self.tokenizer(prefix, add_special_tokens=False)["input_ids"]) - 1)
                messages.append({"role": "assistant", "content": self.spec.get("good_token", "+")})
            return self.tokenizer.apply_chat_template(messages, tokenize=False), positions
        tag = self.spec.get("step_tag", " ки")
        body = self.spec.get("step_join", "\n").join(f"{s}{tag}" for s in steps)
        text = self.spec.get("template", "{question} {steps}").format(question=question, steps=body)
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ends, start = [], 0
        for s in steps:
            k = text.index(f"{s}{tag}", start) + len(s) + len(tag)
            ends.append(k)
            start = k
        positions = []
        for end in ends:  # the last token that ends at or before the tag's end
            idx = max(i for i, (_, b) in enumerate(enc["offset_mapping"]) if b <= end)
            positions.append(idx)
        return text, positions

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "backend": self.backend, "readout": self.readout,
                "family": self.spec.get("family")}

    def close(self) -> None:
        from ttscale.engine import release

        if self.llm is not None:
            release(self.llm)
        self.llm = self.model = None


class OutcomeScorer(_RewardScorer):
    """One score per response from an outcome reward model."""

    kind = "outcome"

    def score(self, items: list[Item]) -> list[dict[str, Any]]:
        idx = [k for k, it in enumerate(items) if it.response.strip()]
        out = [row(None, "empty") for _ in items]
        lengths = [len(self.tokenizer.encode(self.chat(items[k].question, items[k].response), add_special_tokens=False))
                   for k in idx]
        ok = [k for k, n in zip(idx, lengths, strict=True) if n < self.max_len]
        for k in set(idx) - set(ok):
            out[k] = row(None, "too_long")
        for k, v in zip(ok, self.outcome([(items[k].question, items[k].response) for k in ok]), strict=True):
            out[k] = row(v)
        return out


class ProcessScorer(_RewardScorer):
    """Per-step scores from a process reward model; all four aggregations are kept."""

    kind = "process"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.separator = self.spec.get("step_separator", "\n\n")
        self.default = self.spec.get("aggregation", DEFAULT_AGGREGATION)
        self.last_token_counts: list[int] = []  # tokens the PRM read per item of the last score_steps (search cost)

    def score(self, items: list[Item]) -> list[dict[str, Any]]:
        split = [split_steps(it.response, self.separator) for it in items]
        idx = [k for k, (steps, _) in enumerate(split) if steps]
        out = [row(None, "empty") for _ in items]
        # as OutcomeScorer: a prompt over the engine's limit fails vLLM's validation for the whole shard
        lengths = self.input_lengths([(items[k].question, split[k][0]) for k in idx])
        ok = [k for k, n in zip(idx, lengths, strict=True) if max(n) < self.max_len]
        for k in set(idx) - set(ok):
            out[k] = row(None, "too_long")
        results = self.steps_scores([(items[k].question, split[k][0]) for k in ok]) if ok else []
        for k, vals in zip(ok, results, strict=True):
            if vals is None:
                out[k] = row(None, "error")
            else:
                out[k] = row(None, "ok", vals, split[k][1], self.default)
        return out

    def score_steps(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        """The in-process API search uses: per-step scores for (question, steps) pairs.

        A read-out that fails for an item (its steps and the model's step ends disagree), or an item
        too long for the model, is an error, not a silent score: the search would otherwise prune on
        made-up numbers. `last_token_counts` gets one count per item (summed over its inputs).
        """
        lengths = self.input_lengths(items)
        long = [i for i, n in enumerate(lengths) if max(n, default=0) >= self.max_len]
        if long:
            raise DataError(f"scorers.{self.name}: {len(long)} of {len(items)} search beams are longer than the "
                            f"scorer's max_model_len {self.max_len} tokens; raise it or lower max_steps/step_tokens")
        out = self.steps_scores(items)
        bad = [i for i, v in enumerate(out) if v is None]
        if bad:
            raise DataError(f"scorers.{self.name}: the step read-out failed for {len(bad)} of {len(items)} "
                            f"items (the model's step ends do not match the steps)")
        self.last_token_counts = [sum(n) for n in lengths]
        return out  # type: ignore[return-value]


def describe_family(spec: dict[str, Any]) -> str:
    return json.dumps({k: spec.get(k) for k in ("family", "readout", "format")})
