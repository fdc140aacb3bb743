"""What a generation backend receives and returns."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttscale.generate.progress import Progress


@dataclass
class Request:
    problem_id: str
    sample_index: int
    seed: int
    prompt: str  # the exact text sent (or JSON messages for a chat endpoint)
    messages: list[dict[str, str]] | None = None
    add_special_tokens: bool = False
    params: dict[str, Any] = field(default_factory=dict)  # sampling parameters incl. stop


@dataclass
class Result:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cumulative_logprob: float | None = None
    latency_s: float | None = None


class Backend:
    """Base class of generation backends; one instance holds one loaded engine or client."""

    kind = "base"

    def __init__(self, name: str, model: dict[str, Any], root: Path, threads: int | None = None,
                 seed: int = 0) -> None:
        self.name, self.model, self.root, self.threads, self.seed = name, model, root, threads, seed

    def render(self, row: dict[str, Any]) -> tuple[str, list[dict[str, str]] | None, bool]:
        """(prompt text, messages for chat endpoints, whether to add special tokens)."""
        raise NotImplementedError

    def generate(self, requests: list[Request], progress: Progress,
                 journal: Path | None = None) -> list[Result]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"backend": self.kind}

    def close(self) -> None:
        """Release the engine or client."""


def render_with_tokenizer(tokenizer: Any, row: dict[str, Any], reasoning: Any = None
                          ) -> tuple[str, list[dict[str, str]] | None, bool]:
    """Chat rows go through the tokenizer's chat template; completion rows are sent as written.

    The chat template already holds any special tokens the model wants (BOS for Llama 3), so those
    prompts are tokenized without adding more; plain completion prompts get the tokenizer's BOS.
    With a reasoning setting (ttscale.reasoning.ReasoningSpec) earlier assistant turns lose their
    thinking and the template gets the setting's options (Qwen3's enable_thinking).
    """
    prefix = row.get("assistant_prefix") or ""
    if row.get("prompt_mode", "chat") == "completion":
        return row["completion_prompt"] + prefix, None, True
    messages = json.loads(row["messages"])
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError("the model's tokenizer has no chat template; use prompt.mode: completion")
    options: dict[str, Any] = {}
    if reasoning is not None:
        from ttscale.reasoning import chat_messages

        messages, options = chat_messages(messages, reasoning), dict(reasoning.chat_template_kwargs)
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **options)
    return text + prefix, messages, False
