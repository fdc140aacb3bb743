"""lm-evaluation-harness `--log_samples` output: `samples_<task>_<date>.jsonl`, one line per document
and filter.

lm-eval writes each line with `json.dumps(sample, ensure_ascii=False)`: `doc_id`, `doc`, `target`
(a string), `arguments` ({gen_args_i: {arg_j: ...}}), `resps` (per request, the list of its
responses: one, or `repeats` of them), `filtered_resps` (per request, what the task's filter made
of them), `filter`, `metrics` (the metric names) and each metric's value for the document.

A generation task (`generate_until`) has one request per document:
- without repeats, one response: the sample's text; its filtered response is the answer votes
  group by (lm-eval's own extraction, so a vote group never mixes labels) and the chosen metric
  (0/1) is its correctness;
- with repeats, k responses: lm-eval scores the document once (its filter reduces the k
  responses, e.g. to their majority), so no response has a label of its own; the import says so
  and needs `--verify` (ttscale's verifiers label, and extract the vote keys of, every response).

A file logs every filter of the task once per document; the import reads one (`filter`, needed
when there are several). Loglikelihood tasks (multiple choice) generate nothing and are refused.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ttscale.errors import DataError
from ttscale.importers.base import IMPORTERS, Problem, Sample, jsonl_objects
from ttscale.verify.math import extract_answer

log = logging.getLogger(__name__)

REQUIRED = ("doc_id", "doc", "target", "resps", "filtered_resps", "filter", "metrics")


def _files(source: Path) -> list[Path]:
    if not source.is_dir():
        return [source]
    files = sorted(source.rglob("samples_*.jsonl"))
    if not files:
        raise DataError(f"{source}: no samples_<task>_<date>.jsonl files (run lm_eval with --log_samples)")
    if len(files) > 1:
        raise DataError(f"{source}: {len(files)} sample files ({', '.join(f.name for f in files[:4])}); import one "
                        "task's file at a time (one dataset per import)")
    return files


def _label(value: Any, where: str, metric: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise DataError(f"{where}: metric `{metric}` must be 0 or 1 for a per-sample label, got {value!r} (pass "
                    "--metric to pick a 0/1 metric, or --verify)")


@IMPORTERS.register("lm-eval")
def read_lmeval(source: Path, filter: str | None = None, metric: str | None = None) -> list[Problem]:
    """One task's samples file (or a folder holding one). `filter`: which filter's lines to read;
    `metric`: which 0/1 metric labels a sample (default: the line's first metric)."""
    problems: dict[str, Problem] = {}
    filters: dict[str, str] = {}
    for f in _files(source):
        for where, rec in jsonl_objects(f):
            missing = [k for k in REQUIRED if k not in rec]
            if missing:
                raise DataError(f"{where}: key `{missing[0]}` is missing (an lm-eval --log_samples line has "
                                f"{', '.join(REQUIRED)})")
            name = rec["filter"]
            if not isinstance(name, str):
                raise DataError(f"{where}: `filter` must be a string, got {name!r}")
            filters.setdefault(name, where)
            if filter is not None and name != filter:
                continue
            if filter is None and len(filters) > 1:
                raise DataError(f"{f}: lines of several filters ({', '.join(sorted(filters))}); pass --filter "
                                "to pick the one whose answers and labels to import")
            _add(problems, rec, where, metric)
    if filter is not None and filter not in filters:
        raise DataError(f"{source}: no lines of filter {filter!r} (found {sorted(filters) or 'none'})")
    return list(problems.values())


def _add(problems: dict[str, Problem], rec: dict, where: str, metric: str | None) -> None:
    doc_id, doc, target = rec["doc_id"], rec["doc"], rec["target"]
    if isinstance(doc_id, bool) or not isinstance(doc_id, int | str):
        raise DataError(f"{where}: `doc_id` must be an integer, got {doc_id!r}")
    pid = str(doc_id)
    if pid in problems:
        raise DataError(f"{where}: document {pid} occurs twice for this filter")
    if not isinstance(doc, dict):
        raise DataError(f"{where}: `doc` must be an object, got {type(doc).__name__}")
    if not isinstance(target, str):
        raise DataError(f"{where}: `target` must be a string, got {target!r}")
    resps, filtered = rec["resps"], rec["filtered_resps"]
    if not isinstance(resps, list) or len(resps) != 1 or not isinstance(resps[0], list) or not resps[0]:
        raise DataError(f"{where}: `resps` must hold one request's list of generated texts (a generate_until "
                        f"task); got {str(resps)[:80]} (loglikelihood tasks have no samples to import)")
    texts = resps[0]
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise DataError(f"{where}: `resps[0][{i}]` must be a generated text, got {str(t)[:60]} "
                            "(loglikelihood tasks have no samples to import)")
    if not isinstance(filtered, list) or len(filtered) != 1:
        raise DataError(f"{where}: `filtered_resps` must hold one entry per request (1), got {str(filtered)[:80]}")
    names = rec["metrics"]
    if not isinstance(names, list) or not names or not all(isinstance(m, str) for m in names):
        raise DataError(f"{where}: `metrics` must be a list of metric names, got {names!r}")
    m = metric or names[0]
    if m not in rec:
        raise DataError(f"{where}: metric `{m}` is not on the line (it has {names})")
    question = next((doc[k] for k in ("question", "problem", "prompt", "input") if isinstance(doc.get(k), str)), "")
    args = rec.get("arguments")
    prompt = ""
    if isinstance(args, dict) and isinstance(args.get("gen_args_0"), dict):
        prompt = args["gen_args_0"].get("arg_0") if isinstance(args["gen_args_0"].get("arg_0"), str) else ""
    p = Problem(pid, question=question, prompt=prompt, reference=extract_answer(target) or target, task="math",
                origin=where)
    p.metadata = {"target": target, "doc": doc, "filter": rec["filter"]}
    if len(texts) == 1:
        answer = filtered[0]
        if isinstance(answer, list) and len(answer) == 1:
            answer = answer[0]
        if not isinstance(answer, str):
            raise DataError(f"{where}: `filtered_resps[0]` must be the filtered answer text, got {str(answer)[:60]}")
        p.extractor = f"lm-eval:{rec['filter']}"
        key = answer.strip() or None
        p.samples[0] = Sample(text=texts[0], prompt=prompt, correct=_label(rec[m], where, m), answer=key,
                              answer_key=key)
    else:
        # one label for k responses: none of them has its own; --verify labels each
        if not any(len(q.samples) > 1 for q in problems.values()):
            log.warning("%s: %d responses per document (repeats) scored once by lm-eval (metric %s of filter %r): "
                        "no response has a label of its own, so ttscale's verifiers must label them (--verify)",
                        where, len(texts), m, rec["filter"])
        for i, t in enumerate(texts):
            p.samples[i] = Sample(text=t, prompt=prompt)
    problems[pid] = p
