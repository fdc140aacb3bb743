"""Reasoning models: where a response's thinking block ends and its answer begins.

Reasoning models (DeepSeek-R1 and its distills, Qwen3, QwQ) think inside a delimited block before
they answer. The sample shard keeps the whole text; this module finds the block so that verifiers,
answer extraction and scorers read only the answer, and so that a block that never closes (cut by
`max_tokens`) is its own outcome rather than an answer pulled out of the middle of the thinking.

A block may open in the prompt (R1-distill templates end the generation prompt with `<think>\\n`,
and an assistant prefix may open it) or in the completion; `split` looks at both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ttscale.errors import ConfigError
from ttscale.registry import Registry

# Presets for the common families: delimiters and the chat-template options they expect.
PRESETS: Registry[dict[str, Any]] = Registry("reasoning preset")
PRESETS.register("deepseek_r1")({"start": "<think>", "end": "</think>"})
PRESETS.register("qwen3")({"start": "<think>", "end": "</think>",
                           "chat_template_kwargs": {"enable_thinking": True}})
PRESETS.register("qwq")({"start": "<think>", "end": "</think>"})
PRESETS.register("think_tags")({"start": "<think>", "end": "</think>"})

# Columns a reasoning model's sample shard adds to ttscale.schemas.SAMPLES (old readers ignore them).
THINKING_STATUSES = ("closed", "unclosed", "none")
COLUMNS = [
    ("answer_start", pa.int32()),  # character offset in `text` where the answer begins; null if unclosed
    ("thinking_tokens", pa.int32()),  # tokens of the completion spent thinking (delimiter included)
    ("thinking_status", pa.string()),  # closed, unclosed (no answer), none (no thinking block)
]
UNCLOSED_REASON = "thinking block never closed (cut by max_tokens): no answer"


@dataclass(frozen=True)
class ReasoningSpec:
    """A model's thinking delimiters and the chat-template options that turn thinking on."""

    start: str
    end: str
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)
    strip_few_shot: bool = True  # drop thinking from earlier assistant turns, as the families' templates do


def spec_for(model: dict[str, Any] | None, where: str = "models.<m>.reasoning") -> ReasoningSpec | None:
    """The model's reasoning setting (a preset name, or a mapping with `preset` and overrides); None if unset."""
    raw = (model or {}).get("reasoning")
    if not raw:
        return None
    if isinstance(raw, str):
        raw = {"preset": raw}
    base = dict(PRESETS.get(raw["preset"], f"{where}.preset")) if raw.get("preset") else {}
    merged = {**base, **{k: v for k, v in raw.items() if k != "preset" and v not in (None, {})}}
    if not merged.get("start") or not merged.get("end"):
        raise ConfigError(f"{where}: needs `start` and `end` delimiters (or a preset: {', '.join(PRESETS)})")
    if merged["start"] == merged["end"]:
        raise ConfigError(f"{where}: start and end delimiters are both {merged['start']!r}")
    return ReasoningSpec(merged["start"], merged["end"], dict(merged.get("chat_template_kwargs") or {}),
                         bool(merged.get("strip_few_shot", True)))


@dataclass(frozen=True)
class Split:
    """Where a response's thinking ends: `answer_start` is an offset in the completion text."""

    status: str  # closed, unclosed, none
    answer_start: int | None  # None when unclosed
    thinking_end: int  # offset in the completion where the thinking (with its end delimiter) stops

    def answer(self, text: str) -> str | None:
        """The answer part of `text`; None when the block never closed."""
        return None if self.answer_start is None else text[self.answer_start:]


def opens_in(prompt: str, spec: ReasoningSpec) -> bool:
    """Whether `prompt` ends inside an open thinking block (its last start comes after its last end)."""
    return prompt.rfind(spec.start) > prompt.rfind(spec.end) if spec.start in prompt else False


def split(prompt: str, text: str, spec: ReasoningSpec) -> Split:
    """Find the thinking block of a completion `text` that continues `prompt`.

    The block is open from the start if the prompt opened it; otherwise it opens where the
    completion's first start delimiter is, provided only whitespace comes before it (a delimiter
    quoted inside an answer opens nothing). It ends at the first end delimiter after that. A
    completion with an end delimiter but no start continues a block that a server-side template
    opened (a chat endpoint's prompt is the messages, not the rendered text).
    """
    if opens_in(prompt, spec):
        open_at = 0
    else:
        lead = len(text) - len(text.lstrip())
        if text.startswith(spec.start, lead):
            open_at = lead + len(spec.start)
        elif spec.end in text and spec.start not in text[: text.find(spec.end)]:
            open_at = 0
        else:
            return Split("none", 0, 0)
    end = text.find(spec.end, open_at)
    if end < 0:
        return Split("unclosed", None, len(text))
    stop = end + len(spec.end)
    return Split("closed", stop, stop)


def strip_thinking(content: str, spec: ReasoningSpec) -> str:
    """An assistant turn without its thinking block (few-shot turns, earlier attempts)."""
    pattern = re.escape(spec.start) + r".*?" + re.escape(spec.end)
    out = re.sub(pattern, "", content, flags=re.S)
    if spec.end in out and spec.start not in out:  # the template opened the block in the prompt
        out = out.split(spec.end, 1)[1]
    return out.lstrip()


def chat_messages(messages: list[dict[str, str]], spec: ReasoningSpec | None) -> list[dict[str, str]]:
    """Messages with the thinking of earlier assistant turns left out, as the families expect."""
    if spec is None or not spec.strip_few_shot:
        return messages
    return [{**m, "content": strip_thinking(m["content"], spec)} if m.get("role") == "assistant" else m
            for m in messages]


def columns(prompts: list[str], texts: list[str], spec: ReasoningSpec, count) -> dict[str, list[Any]]:
    """The reasoning columns for a shard's rows; `count(text)` gives a thinking text's token count."""
    out: dict[str, list[Any]] = {name: [] for name, _ in COLUMNS}
    for prompt, text in zip(prompts, texts, strict=True):
        s = split(prompt, text or "", spec)
        out["answer_start"].append(s.answer_start)
        out["thinking_status"].append(s.status)
        out["thinking_tokens"].append(count(text[: s.thinking_end]) if s.thinking_end else 0)
    return out


def schema_with(base: pa.Schema) -> pa.Schema:
    """`base` plus the reasoning columns (those it lacks)."""
    return pa.schema([*base, *[(n, t) for n, t in COLUMNS if n not in base.names]])


def read_spans(path: str | Path) -> list[tuple[int | None, str]] | None:
    """(answer_start, thinking_status) per row of a sample shard; None for a shard without reasoning."""
    names = pq.read_schema(path).names
    if "thinking_status" not in names:
        return None
    t = pq.read_table(path, columns=["answer_start", "thinking_status"]).to_pydict()
    return list(zip(t["answer_start"], t["thinking_status"], strict=True))


def answer_rows(rows: list[dict[str, Any]], spans: list[tuple[int | None, str]] | None
                ) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Rows whose `text` is the answer only (and no assistant prefix: it belonged to the thinking),
    and {row index: reason} for rows with no answer (an unclosed block)."""
    if spans is None:
        return rows, {}
    if len(spans) != len(rows):
        raise ValueError(f"{len(spans)} reasoning spans for {len(rows)} rows")
    out, none = [], {}
    for i, (r, (start, status)) in enumerate(zip(rows, spans, strict=True)):
        if status == "unclosed":
            none[i] = UNCLOSED_REASON
            out.append({**r, "text": "", "assistant_prefix": ""})
        elif status == "closed":
            out.append({**r, "text": (r.get("text") or "")[start:], "assistant_prefix": ""})
        else:
            out.append(r)
    return out, none


def identity(model: dict[str, Any]) -> dict[str, Any] | None:
    """The resolved setting as it enters the sampling key (None when unset, so old keys stay)."""
    spec = spec_for(model)
    if spec is None:
        return None
    return json.loads(json.dumps(spec.__dict__, sort_keys=True))


def token_counter(backend: Any):
    """Count a text's tokens with the backend's tokenizer (re-encoding the thinking text; at the
    boundary with the answer it may differ from the engine's own split by a token)."""
    tok = getattr(backend, "tokenizer", None)
    if tok is None:
        return lambda text: None
    return lambda text: len(tok.encode(text, add_special_tokens=False))


def with_reasoning(table: pa.Table, spec: ReasoningSpec, backend: Any) -> tuple[pa.Table, pa.Schema]:
    """A sample table with the reasoning columns added, and the schema to write it with."""
    cols = columns(table["prompt"].to_pylist(), table["text"].to_pylist(), spec, token_counter(backend))
    for name, typ in COLUMNS:
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(pa.field(name, typ), pa.array(cols[name], typ))
    return table, schema_with(table.schema)


# --- what the workflow plans for reasoning configs (light: rule files import this at planning) -------


def has_budget_forcing(config: dict[str, Any]) -> bool:
    """Whether the config runs budget forcing (then the workflow adds the sequential tables and report)."""
    return any(s.get("kind") == "budget_forcing" for s in (config.get("strategies") or {}).values())


def report_files(out_dir: str | Path, datasets: list[str]) -> list[str]:
    """The files ttscale.report.sequential writes."""
    out = Path(out_dir)
    return [*(str(out / "figures" / f"sequential_{d}.png") for d in datasets),
            *(str(out / "tables" / f"sequential.{ext}") for ext in ("csv", "md", "tex"))]
