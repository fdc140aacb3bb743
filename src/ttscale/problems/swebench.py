"""SWE-bench-format repository tasks: an issue, the repository's relevant files, and the official
grading fields (eval script, image, log parser), from local JSONL or a Hugging Face dataset.

Each instance becomes a problem of task `repo`: the question carries the problem statement and the
files the model may edit, from the text variants' `text` (SWE-bench_Lite_oracle, ..._bm25_13K) or
read at `base_commit` from a local mirror of the repository (`args.repos`: the files the gold patch
touches, SWE-bench's "oracle" set). Those files go to the metadata too, so search/replace answers
can become diffs. Grading needs the fields of the swebench package's current format (`image`,
`eval_script`, `log_parser`, `eval_type`); an instance without them is an error naming it.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ttscale.errors import ConfigError, DataError
from ttscale.patches import patch_paths
from ttscale.problems.base import Loader, Problem
from ttscale.problems.huggingface import HuggingFaceLoader

REQUIRED = ("instance_id", "repo", "base_commit", "problem_statement", "test_patch", "FAIL_TO_PASS",
            "PASS_TO_PASS")
GRADING = ("image", "eval_script", "log_parser")
KEPT = ("instance_id", "repo", "base_commit", "FAIL_TO_PASS", "PASS_TO_PASS", "version", "environment_setup_commit",
        *GRADING, "eval_type")  # the patch and test patch are the solution and tests columns
INSTRUCTIONS = (
    "Resolve the issue by editing the files above. Answer with a single patch in unified diff format "
    "(git diff, paths a/<file> and b/<file>) in a ```diff block, or with search/replace edits:\n"
    "path/to/file.py\n<<<<<<< SEARCH\nexact lines to replace\n=======\nnew lines\n>>>>>>> REPLACE"
)
_TEXT_FILE = re.compile(r"^\[start of ([^\]\n]+)\]\n(.*?)^\[end of \1\]$", re.M | re.S)
_NUMBERED = re.compile(r"^\d+ ?")


def text_files(text: str) -> dict[str, str]:
    """The files of a SWE-bench text variant's `text`: `[start of p]` ... `[end of p]` with numbered lines."""
    files = {}
    for m in _TEXT_FILE.finditer(text or ""):
        lines = m.group(2).split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        files[m.group(1)] = "".join(_NUMBERED.sub("", ln, count=1) + "\n" for ln in lines)
    return files


def render_files(files: dict[str, str]) -> str:
    return "\n".join(f"[start of {p}]\n{body.rstrip(chr(10))}\n[end of {p}]" for p, body in files.items())


def question(statement: str, files: dict[str, str]) -> str:
    code = f"<code>\n{render_files(files)}\n</code>\n" if files else ""
    return f"<issue>\n{statement.strip()}\n</issue>\n{code}{INSTRUCTIONS}"


def mirror_files(mirror: Path, commit: str, paths: list[str], where: str) -> dict[str, str]:
    """The files at `commit` in a local clone (`git show`; a path the commit lacks is left out)."""
    out = {}
    for path in paths:
        res = subprocess.run(["git", "-C", str(mirror), "show", f"{commit}:{path}"], capture_output=True)
        if res.returncode == 0:
            out[path] = res.stdout.decode("utf-8", "replace")
        elif b"does not exist" not in res.stderr and b"exists on disk, but not in" not in res.stderr:
            raise DataError(f"{where}: git show {commit}:{path} in {mirror} failed: "
                            f"{res.stderr.decode(errors='replace').strip()[:300]}")
    return out


def _listed(value: Any, where: str) -> list[str]:
    out = json.loads(value) if isinstance(value, str) else value
    if not isinstance(out, list) or not all(isinstance(x, str) for x in out):
        raise DataError(f"{where}: not a list of test names: {str(value)[:200]}")
    return out


class SWEbenchLoader(Loader):
    """args: path (a .jsonl file, a Hugging Face dataset name such as SWE-bench/SWE-bench_Lite, or a local
    dataset folder), split, revision, offline; the files from `text_from` (a text variant with the same
    instance ids, e.g. princeton-nlp/SWE-bench_Lite_oracle, or a .jsonl) or `repos` (a folder of git
    mirrors named owner__name, read at base_commit: the files the gold patch touches)."""

    task = "repo"
    required_args = ("path",)
    jsonl_args = ("path", "text_from")  # local data files (inputs of the problems stage) when they end in .jsonl

    @property
    def cheap_size(self) -> bool:  # type: ignore[override]
        return self._jsonl("path") is not None

    def _jsonl(self, key: str) -> Path | None:
        p = Path(str(self.args[key])).expanduser()
        p = p if p.is_absolute() else self.root / p
        return p if p.suffix == ".jsonl" else None

    def _rows(self, key: str = "path") -> Iterator[dict[str, Any]]:
        if self._jsonl(key) is None:
            args = {**self.args, "path": self.args[key], "split": self.args.get("split", "test")}
            yield from HuggingFaceLoader(self.name, args, self.root)._dataset()
            return
        path = self.path_arg(key)
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DataError(f"{path}:{n}: not valid JSON ({exc.msg})") from None

    def size(self) -> int | None:
        if self._jsonl("path") is None:
            return None
        with open(self.path_arg(), encoding="utf-8") as fh:
            return sum(1 for line in fh if line.strip())

    def _texts(self) -> dict[str, str]:
        """instance_id -> `text` of the text variant named by `args.text_from` (e.g. ..._oracle, ..._bm25_13K)."""
        if not self.args.get("text_from"):
            return {}
        return {r["instance_id"]: r.get("text") or "" for r in self._rows("text_from")}

    def _files(self, row: dict[str, Any], where: str, texts: dict[str, str]) -> dict[str, str]:
        text = texts.get(row["instance_id"]) or row.get("text")
        if text:
            return text_files(text)
        if texts:
            raise DataError(f"{where}: no text in datasets.{self.name}.args.text_from={self.args['text_from']}")
        repos = self.args.get("repos")
        if not repos:
            return {}
        mirror = self.path_arg("repos") / row["repo"].replace("/", "__")
        if not (mirror / ".git").exists() and not (mirror / "HEAD").exists():
            raise ConfigError(f"datasets.{self.name}.args.repos: no git mirror of {row['repo']} at {mirror}")
        wanted = [p for p in dict.fromkeys(patch_paths(row.get("patch") or ""))]
        return mirror_files(mirror, row["base_commit"], wanted, where)

    def load(self) -> Iterator[Problem]:
        src = self.args["path"]
        texts = self._texts()
        for i, row in enumerate(self._rows()):
            where = f"datasets.{self.name} ({src}) instance {row.get('instance_id', f'#{i}')}"
            missing = [k for k in REQUIRED if k not in row]
            if missing:
                raise DataError(f"{where}: missing fields {missing}")
            lacking = [k for k in GRADING if not row.get(k)]
            if lacking:
                raise DataError(f"{where}: missing {lacking}, which the grading needs (the swebench package's "
                                f"current instance format: image, eval_script, log_parser)")
            f2p = _listed(row["FAIL_TO_PASS"], f"{where}: FAIL_TO_PASS")
            p2p = _listed(row["PASS_TO_PASS"], f"{where}: PASS_TO_PASS")
            files = self._files(row, where, texts)
            meta = {k: row.get(k) for k in KEPT}
            meta.update(FAIL_TO_PASS=f2p, PASS_TO_PASS=p2p, eval_type=row.get("eval_type") or "pass_and_fail",
                        files=files)
            yield Problem(problem_id=row["instance_id"], question=question(row["problem_statement"], files),
                          tests=row["test_patch"], test_style="swebench", solution=row.get("patch"),
                          level=row["repo"], metadata={"swebench": meta})
