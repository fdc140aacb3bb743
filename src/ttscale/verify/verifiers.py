"""The verifiers: one verdict per sample, chosen by the problem's task (code, math, other)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from typing import Any, ClassVar

from ttscale.registry import Registry
from ttscale.verify.code import asserts_program, extract_code
from ttscale.verify.math import canonical_key, equivalent, extract_answer
from ttscale.verify.pool import run_tasks

log = logging.getLogger(__name__)
TAIL = 2000  # characters of output kept in a verdict
KEPT_ANSWER = 20_000  # characters of extracted code kept in a verdict


def verdict(status: str, correct: bool = False, *, answer: str | None = None, key: str | None = None,
            passed: int = 0, total: int = 1, duration: float = 0.0, tail: str = "",
            extended: bool | None = None) -> dict[str, Any]:
    return {
        "extracted_answer": answer,
        "answer_key": key,
        "correct": correct,
        "status": status,
        "tests_passed": passed,
        "tests_total": total,
        "duration_s": duration,
        "output_tail": tail[-TAIL:],
        "correct_extended": extended,
    }


class Verifier:
    """Base class: `verify(items)` takes joined (sample, problem) dicts, returns one verdict each."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings

    def verify(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        raise NotImplementedError


VERIFIERS: Registry[type[Verifier]] = Registry("verifier")


def response(item: dict[str, Any]) -> str:
    return (item.get("assistant_prefix") or "") + (item.get("text") or "")


@VERIFIERS.register("math")
class MathVerifier(Verifier):
    """Extract the final answer; math-verify decides equivalence (each distinct answer once)."""

    def verify(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for it in items:
            start = time.perf_counter()
            ans = extract_answer(response(it))
            if ans is None:
                out.append(verdict("no_answer", tail="no final answer found"))
                continue
            ok = equivalent(it["answer"] or "", ans)
            out.append(verdict("passed" if ok else "failed", ok, answer=ans, key=canonical_key(ans),
                               duration=time.perf_counter() - start))
        return out


_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.S)
_ANSWER_LINE = re.compile(r"answer\s*(?:is|:)\s*:?\s*(.+)", re.I)


def final_answer(text: str) -> str | None:
    """A non-math final answer: <answer> tags, an 'answer is' line, else the last non-empty line."""
    tags = _ANSWER_TAG.findall(text)
    if tags:
        return tags[-1].strip()
    lines = _ANSWER_LINE.findall(text)
    if lines:
        return lines[-1].strip().rstrip(".").strip()
    rest = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return rest[-1] if rest else None


@VERIFIERS.register("reasoning_gym")
class ReasoningGymVerifier(Verifier):
    """reasoning-gym's own scorer for its non-math tasks (the problem is regenerated from its seed)."""

    _cache: ClassVar[dict[tuple, Any]] = {}

    def _dataset(self, meta: dict[str, Any], size: int):
        import reasoning_gym

        key = (meta["task"], meta["seed"], json.dumps(meta.get("options", {}), sort_keys=True))
        ds = self._cache.get(key)
        if ds is None or len(ds) < size:
            ds = reasoning_gym.create_dataset(meta["task"], size=size, seed=meta["seed"], **meta.get("options", {}))
            self._cache[key] = ds
        return ds

    def verify(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for it in items:
            meta = json.loads(it.get("metadata") or "{}").get("reasoning_gym")
            ans = final_answer(response(it))
            if ans is None:
                out.append(verdict("no_answer", tail="no final answer found"))
                continue
            if not meta:
                ok = ans.strip() == (it.get("answer") or "").strip()
            else:
                ds = self._dataset(meta, meta["index"] + 1)
                ok = float(ds.score_answer(ans, ds[meta["index"]])) >= 0.999
            out.append(verdict("passed" if ok else "failed", ok, answer=ans, key=re.sub(r"\s+", " ", ans).strip()))
        return out


@VERIFIERS.register("exact")
class ExactVerifier(Verifier):
    """Exact match of the final answer line with the reference answer (after trimming)."""

    def verify(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for it in items:
            ans = final_answer(response(it))
            ok = ans is not None and ans.strip() == (it.get("answer") or "").strip()
            status = "no_answer" if ans is None else ("passed" if ok else "failed")
            out.append(verdict(status, ok, answer=ans, key=ans))
        return out


@VERIFIERS.register("code")
class CodeVerifier(Verifier):
    """Programs run against their tests in the sandbox; each distinct (problem, program) once."""

    def verify(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        s = self.settings
        max_bytes = int(s.get("max_code_bytes", 1_000_000))
        out: list[dict[str, Any] | None] = [None] * len(items)
        task_of: dict[tuple[str, str], int] = {}
        tasks: list[dict[str, Any]] = []
        program_of: list[tuple[int, str, str] | None] = [None] * len(items)
        for i, it in enumerate(items):
            code = extract_code(response(it))
            if code is None:
                out[i] = verdict("no_answer", tail="the response holds no code")
                continue
            if len(code.encode("utf-8", "replace")) > max_bytes:
                out[i] = verdict("failed", answer=code[:KEPT_ANSWER],
                                 tail=f"code of {len(code)} characters exceeds verify.max_code_bytes")
                continue
            style = it.get("test_style") or "asserts"
            stub = None
            if style == "asserts":
                stub = json.loads(it.get("metadata") or "{}").get("prompt", "")
                program = asserts_program(stub, code) if stub else code
            else:
                program = code
            key = (it["problem_id"], program)
            if key not in task_of:
                task_of[key] = len(tasks)
                tasks.append({"id": len(tasks), "kind": "stdio" if style == "stdio" else "asserts",
                              "code": program, "tests": it.get("tests") or "", "entry_point": it.get("entry_point"),
                              "prompt": stub if style == "asserts" else None,
                              "cpu_limit_s": it.get("cpu_limit_s")})
                ext = it.get("extended")
                if ext and ext.get("inputs") and (ext.get("kind") == "stdio") == (style == "stdio"):
                    tasks[-1]["extended"] = {k: ext[k] for k in ("inputs", "outputs", "atol")}
            norm = re.sub(r"\s+", " ", code).strip()
            program_of[i] = (task_of[key], code, "code:" + hashlib.sha256(norm.encode()).hexdigest()[:16])
        if tasks:
            log.info("running %d distinct programs for %d samples in %s sandboxes (%s)", len(tasks), len(items),
                     s.get("workers", 1), s.get("backend", "docker"))
            box = {**(s.get("container") or {}), "image": s.get("image", "ttscale-verifier:latest")}
            if s.get("sif"):
                box["sif"] = s["sif"]
            results = run_tasks(tasks, s.get("backend", "docker"), s.get("limits"), int(s.get("workers") or 1), box)
        for i, prog in enumerate(program_of):
            if prog is None:
                continue
            tid, code, key = prog
            r = results[tid]
            tail = "\n".join(x for x in (r.get("error"), r.get("tail")) if x)
            ext = extended_verdict(tasks[tid], r)
            if ext is False and r["status"] == "passed":
                tail = "\n".join(x for x in (tail, extended_failure(tasks[tid], r)) if x)
            out[i] = verdict(r["status"], r["status"] == "passed", answer=code[:KEPT_ANSWER], key=key,
                             passed=int(r.get("tests_passed") or 0), total=int(r.get("tests_total") or 1),
                             duration=float(r.get("duration") or 0.0), tail=tail, extended=ext)
            out[i]["cpu_s"] = r.get("cpu_s")  # not a verdict column: the gold audit's reference time
        return out  # type: ignore[return-value]


def extended_verdict(task: dict[str, Any], result: dict[str, Any]) -> bool | None:
    """correct_extended: None without extended tests; False when the base tests failed (the sample is
    not run on the extended ones); else whether every extended input gave the reference's output."""
    if not task.get("extended"):
        return None
    return result["status"] == "passed" and result.get("extended") == "passed"


def extended_failure(task: dict[str, Any], result: dict[str, Any]) -> str:
    """The first failing extended input, for the verdict's tail (it comes last, so the tail keeps it)."""
    ext, i = task["extended"], result.get("ext_index")
    if not isinstance(i, int) or not 0 <= i < len(ext["inputs"]):
        return f"extended tests failed: {result.get('ext_error') or 'no result'}"
    text = ext["inputs"][i]
    shown = f"{task.get('entry_point') or ''}{text}" if task["kind"] == "asserts" else repr(text)
    return (f"extended test {i + 1} of {len(ext['inputs'])} failed: input {shown[:400]} expected "
            f"{ext['outputs'][i][:300]}; {result.get('ext_error') or ''}")[:TAIL // 2]


def verifier_for(task: str, problem_meta: dict[str, Any], by_task: dict[str, str]) -> str:
    """The verifier a problem gets: the config's by_task mapping, with `auto` for `other` tasks."""
    name = by_task.get(task, "auto")
    if name == "auto":
        return "reasoning_gym" if "reasoning_gym" in problem_meta else "exact"
    return name
