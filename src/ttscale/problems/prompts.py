"""Turning a problem into messages, a completion prompt and an assistant prefix.

What is stored here is model-independent; the model's chat template is applied at generation
time (ttscale.generate.render), and the exact rendered text is stored with every sample.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

from ttscale.errors import ConfigError


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
