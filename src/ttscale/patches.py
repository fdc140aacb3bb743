"""Patches from repository-task responses: a unified diff (fenced or raw), or search/replace edit
blocks turned into a diff against the files at the instance's base commit.

The patch is what the official SWE-bench harness would be given (`model_patch`); extraction only
finds it and normalizes line endings, so a patch that would not apply there does not apply here.
`patch_problem` names what makes a patch unsafe to run at all (paths outside the repository, the
repository's git directory, binary hunks, test-run hooks, size); such patches are rejected
without starting anything.
"""

from __future__ import annotations

import difflib
import re
from pathlib import PurePosixPath

# a fenced block: ``` or ~~~ with an optional info string; the body up to the matching fence or the end
_FENCE = re.compile(r"^[ \t]*(```|~~~)[ \t]*([\w+.-]*)[^\n]*\n(.*?)(?:^[ \t]*\1[ \t]*$|\Z)", re.M | re.S)
_DIFF_START = re.compile(r"^(?:diff --git |--- (?:a/|/dev/null|\S))", re.M)
# a hunk, or a binary one (found here, rejected by patch_problem)
_HUNK = re.compile(r"^(?:@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@|GIT binary patch$|Binary files )", re.M)
# search/replace edit blocks (the aider/Agentless convention): the file path on the line before
_EDIT = re.compile(
    r"^[ \t]*(?:#+[ \t]*)?`*([^\n`]+?)`*[ \t]*\n(?:```[^\n]*\n)?"
    r"<{5,9} SEARCH[ \t]*\n(.*?)^={5,9}[ \t]*\n(.*?)^>{5,9} REPLACE[ \t]*$",
    re.M | re.S,
)
_PATH_LINE = re.compile(
    r"^(?:diff --git a/(\S+) b/(\S+)|--- (\S+)|\+\+\+ (\S+)|rename (?:from|to) (.+)|copy (?:from|to) (.+))$", re.M)
# files that change how the test run reports, whatever the tests say: never part of a fix
HOOK_FILES = ("conftest.py", "sitecustomize.py", "usercustomize.py", "pytest.ini")


def _diff_text(text: str) -> str | None:
    """The diff in a piece of text: from its first file header to the end, if it has a hunk."""
    m = _DIFF_START.search(text)
    if m is None or not _HUNK.search(text, m.start()):
        return None
    return text[m.start():]


def extract_diff(response: str) -> str | None:
    """A unified diff: the fenced blocks tagged diff/patch (or holding one) joined in order, else a raw diff."""
    text = response.replace("\r\n", "\n")
    parts = []
    for m in _FENCE.finditer(text):
        tag, body = m.group(2).lower(), m.group(3)
        found = _diff_text(body)
        if found and (tag in ("diff", "patch", "") or _DIFF_START.match(body.lstrip())):
            parts.append(found)
    if not parts:
        raw = _diff_text(text)
        parts = [raw] if raw else []
    if not parts:
        return None
    return normalize("\n".join(p.rstrip("\n") for p in parts))


def normalize(patch: str) -> str:
    """LF line endings and one final newline: the bytes applied, and the key distinct patches are run by."""
    lines = patch.replace("\r\n", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def edit_blocks(response: str) -> list[tuple[str, str, str]]:
    """(path, search, replace) of each search/replace block, in order."""
    text = response.replace("\r\n", "\n")
    return [(m.group(1).strip(), m.group(2), m.group(3)) for m in _EDIT.finditer(text)]


class EditError(ValueError):
    """A search/replace block that cannot be applied (unknown file, text not found)."""


def edits_to_diff(edits: list[tuple[str, str, str]], files: dict[str, str]) -> str:
    """Apply the edits to the files at the base commit and diff the result (git's a/ b/ format).

    An empty search text creates the file (or appends to an empty one). A search text must occur in
    the file as it stands after the earlier edits; its first occurrence is replaced.
    """
    new = dict(files)
    for path, search, replace in edits:
        if path not in new:
            if search.strip():
                raise EditError(f"edit of {path}: the file is not among the instance's files")
            new[path] = ""
        current = new[path]
        if not search.strip():
            new[path] = current + replace
            continue
        at = current.find(search)
        if at < 0:
            raise EditError(f"edit of {path}: the search text is not in the file")
        new[path] = current[:at] + replace + current[at + len(search):]
    out = []
    for path in sorted(new):
        before, after = files.get(path), new[path]
        if before == after:
            continue
        head = [f"diff --git a/{path} b/{path}\n"] + (["new file mode 100644\n"] if before is None else [])
        lines = difflib.unified_diff((before or "").splitlines(keepends=True), after.splitlines(keepends=True),
                                     "/dev/null" if before is None else f"a/{path}", f"b/{path}")
        body = [ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n" for ln in lines]
        out.append("".join(head + body))
    return normalize("".join(out))


def extract_patch(response: str | None, files: dict[str, str]) -> tuple[str | None, str]:
    """(patch, how): a diff, else the search/replace blocks as a diff; (None, why) without a usable one.

    `how` is `diff`, `edits`, or for None the reason (no patch, or an edit that does not apply).
    """
    if response is None or not response.strip():
        return None, "empty response"
    diff = extract_diff(response)
    if diff:
        return diff, "diff"
    edits = edit_blocks(response)
    if not edits:
        return None, "the response holds no diff and no search/replace block"
    try:
        patch = edits_to_diff(edits, files)
    except EditError as exc:
        return None, str(exc)
    return (patch, "edits") if patch else (None, "the edits change nothing")


def patch_paths(patch: str) -> list[str]:
    """Every path the patch names in its headers, without the a/ b/ prefix."""
    out = []
    for m in _PATH_LINE.finditer(patch):
        for raw in m.groups():
            if raw:
                path = raw.strip().split("\t")[0]
                if path != "/dev/null":
                    out.append(path[2:] if path.startswith(("a/", "b/")) else path)
    return out


def patch_problem(patch: str, max_bytes: int) -> str | None:
    """Why the patch must not run (a hostile or broken patch), or None."""
    size = len(patch.encode("utf-8", "replace"))
    if size > max_bytes:
        return f"the patch has {size} bytes, over verify.repository.max_patch_bytes={max_bytes}"
    if "GIT binary patch" in patch or re.search(r"^Binary files .* differ$", patch, re.M):
        return "the patch has binary hunks"
    if "\x00" in patch:
        return "the patch holds NUL bytes"
    for path in patch_paths(patch):
        parts = PurePosixPath(path).parts
        if path.startswith(("/", "~")) or ".." in parts:
            return f"the patch touches {path!r}, outside the repository"
        if ".git" in parts:
            return f"the patch touches {path!r}, inside the repository's git directory"
        if parts and parts[-1] in HOOK_FILES:
            return f"the patch touches {path!r}, which changes how tests report"
    return None
