"""Turning a problem into messages, a completion prompt and an assistant prefix.

What is stored here is model-independent; the model's chat template is applied at generation
time (ttscale.generate.render), and the exact rendered text is stored with every sample.
"""

from __future__ import annotations

import dataclasses
import json
import string
from pathlib import Path
from typing import Any

from ttscale.errors import ConfigError
from ttscale.problems.base import Problem

_FIELDS = tuple(f.name for f in dataclasses.fields(Problem) if f.name != "metadata")


class _Fields(dict):
    where = "prompt template"

    def __missing__(self, key: str) -> str:
        raise ConfigError(f"{self.where}: uses {{{key}}}, which the problem does not have; "
                          f"available: {', '.join(sorted(self))}")


def fill(template: str, fields: dict[str, Any], where: str = "prompt template") -> str:
    """str.format_map with errors that name the config key (`where`); literal braces are written {{ }}.

    Without this a `{}` or a lone `{` would surface as a bare IndexError/ValueError from str.format.
    """
    values = _Fields({k: "" if v is None else v for k, v in fields.items()})
    values.where = where
    try:
        return string.Formatter().vformat(template, (), values)
    except (IndexError, ValueError, AttributeError, TypeError) as exc:
        detail = "positional field {} is not allowed" if isinstance(exc, IndexError) else str(exc)
        raise ConfigError(f"{where}: {template!r}: {detail}; fields are named like {{question}}, "
                          f"literal braces are written {{{{ and }}}}") from exc


def few_shot_examples(prompt: dict[str, Any], root: Path) -> list[dict[str, str]]:
    """The inline examples, then those of `few_shot_file`; a bad line is reported as <file>:<line>."""
    examples = list(prompt.get("few_shot") or [])
    path = prompt.get("few_shot_file")
    if path:
        p = Path(path) if Path(path).is_absolute() else root / path
        with open(p, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise ConfigError(f"{p}:{n}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
                    if not isinstance(rec, dict) or not {"question", "answer"} <= set(rec):
                        raise ConfigError(f"{p}:{n}: a few-shot example needs 'question' and 'answer'")
                    examples.append({"question": rec["question"], "answer": rec["answer"]})
    return examples


def render_problem(fields: dict[str, Any], prompt: dict[str, Any], examples: list[dict[str, str]],
                   where: str = "prompt") -> dict[str, str]:
    """messages (JSON), completion_prompt and assistant_prefix for one problem.

    `where` is the config key of `prompt` (`datasets.<name>.prompt`), named in template errors.
    """
    template = prompt.get("template", "{question}")
    messages: list[dict[str, str]] = []
    if prompt.get("system"):
        messages.append({"role": "system", "content": prompt["system"]})
    parts: list[str] = []
    for ex in examples:
        q = fill(template, {**fields, "question": ex["question"]}, f"{where}.template")
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": ex["answer"]}]
        parts.append(q + "\n" + ex["answer"])
    user = fill(template, fields, f"{where}.template")
    messages.append({"role": "user", "content": user})
    parts.append(user + "\n")
    return {
        "messages": json.dumps(messages, ensure_ascii=False),
        "completion_prompt": prompt.get("few_shot_separator", "\n\n").join(parts),
        "assistant_prefix": fill(prompt.get("assistant_prefix", ""), fields, f"{where}.assistant_prefix"),
    }


def model_prompt(ds: dict[str, Any], model: str) -> dict[str, Any]:
    """The prompt a model sees on a dataset: the dataset's `prompt`, with the keys that
    `per_model.<model>.prompt` sets replacing the dataset's (Liu et al. gave Qwen models their own
    system prompt). Equal to the dataset's prompt when the model has no override, so its key stays."""
    own = ((ds.get("per_model") or {}).get(model) or {}).get("prompt") or {}
    return {**(ds.get("prompt") or {}), **{k: v for k, v in own.items() if v is not None}}


def has_override(ds: dict[str, Any], model: str) -> bool:
    return bool(((ds.get("per_model") or {}).get(model) or {}).get("prompt"))


def render_rows(rows: list[dict[str, Any]], prompt: dict[str, Any], root: Path, where: str) -> list[dict[str, Any]]:
    """Problem-table rows rendered again with another prompt (a model's override): messages,
    completion prompt, assistant prefix, mode and stop strings; every other column as stored."""
    examples = few_shot_examples(prompt, root)
    out = []
    for row in rows:
        fields = {k: row.get(k) for k in _FIELDS}  # what the problems stage renders from
        out.append({**row, **render_problem(fields, prompt, examples, where),
                    "prompt_mode": prompt.get("mode", "chat"), "stop": list(prompt.get("stop") or [])})
    return out


def model_rows(config: dict[str, Any], dataset: str, model: str, rows: list[dict[str, Any]],
               root: Path) -> list[dict[str, Any]]:
    """The problem rows as `model` sees them: as stored, or rendered with its prompt override."""
    ds = config["datasets"][dataset]
    if not has_override(ds, model):
        return rows
    return render_rows(rows, model_prompt(ds, model), root, f"datasets.{dataset}.per_model.{model}.prompt")
