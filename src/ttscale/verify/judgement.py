"""Math verdicts that rest on a judgement call: the extraction rule, or math-verify's equivalence.

The math verifier takes the last \\boxed{}, else GSM8K's "####" / "the answer is", else the last number
(ttscale.verify.math). A response that states different answers under those rules (a boxed 6 and a closing
"the answer is 7") is judged by the order of the rules, not by what it says; an answer that is correct only
because math-verify finds it equal to the reference ("12/2" for 6, "\\frac{1}{2}" for 0.5) rests on that
equivalence. Neither is wrong, but a curve built on many of them rests on the verifier's choices, so
`judgement_run` lists every such sample of a run and counts them (the math analogue of the code datasets'
false-positive rates, docs/verification.md).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from ttscale.io import read_table, write_table
from ttscale.schemas import PROBLEMS, SAMPLES
from ttscale.verify.math import _ANSWER_IS, _HASHES, _LAST, _clean, _last_boxed, _stated, equivalent, extract_answer

log = logging.getLogger(__name__)

RULES = ("boxed", "answer_is", "last_number")

JUDGEMENT = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("problem_id", pa.string()),
    ("sample_index", pa.int32()), ("kind", pa.string()),  # extraction, equivalence
    ("answer", pa.string()), ("reference", pa.string()), ("correct", pa.bool_()),
    ("boxed", pa.string()), ("answer_is", pa.string()), ("last_number", pa.string()), ("rule_verdicts", pa.string()),
])

JUDGEMENT_SUMMARY = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("samples", pa.int64()),
    ("answered", pa.int64()), ("correct", pa.int64()), ("extraction", pa.int64()),
    ("extraction_correct", pa.int64()), ("equivalence", pa.int64()), ("share_of_correct", pa.float64()),
])


def rule_answers(text: str | None) -> dict[str, str | None]:
    """The answer each extraction rule alone finds in a response (None where it finds none)."""
    out: dict[str, str | None] = dict.fromkeys(RULES)
    if not text or not text.strip():
        return out
    boxed = _last_boxed(text)
    out["boxed"] = _clean(boxed) if boxed else None
    for pattern in (_HASHES, _ANSWER_IS):
        hits = pattern.findall(text)
        if hits:
            line = hits[-1].strip().splitlines()[0] if hits[-1].strip() else ""
            cand = _stated(line)
            if cand:
                out["answer_is"] = cand
                break
    hits = _LAST.findall(text)
    if hits:
        out["last_number"] = hits[-1] if "frac" in hits[-1] else hits[-1].replace(",", "")
    return out


def _literal(answer: str, reference: str) -> bool:
    """The same answer without math-verify: equal text (spaces, commas of numbers aside) or equal plain numbers."""
    a, b = (_clean(x).replace(" ", "") for x in (answer, reference))
    if a == b or a.replace(",", "") == b.replace(",", ""):
        return True
    try:
        return float(a.replace(",", "")) == float(b.replace(",", ""))
    except ValueError:
        return False


def judge(text: str | None, reference: str) -> dict[str, Any]:
    """The sample's answer and verdict, each rule's answer and verdict, and which judgement calls it rests on."""
    answer = extract_answer(text)
    correct = equivalent(reference, answer)
    rules = rule_answers(text)
    verdicts = {r: equivalent(reference, a) for r, a in rules.items() if a is not None}
    kinds = []
    if len(set(verdicts.values())) > 1:
        kinds.append("extraction")
    if correct and answer is not None and not _literal(answer, reference):
        kinds.append("equivalence")
    return {"answer": answer, "correct": correct, "rules": rules, "verdicts": verdicts, "kinds": kinds}


def judgement_run(samples: list[str | Path], problems: str | Path, outputs: dict[str, str | Path], model: str,
                  dataset: str, sampling: str) -> dict[str, Any]:
    """List a math run's samples whose verdict rests on a judgement call, and count them."""
    probs = {r["problem_id"]: r for r in read_table(problems, PROBLEMS, columns=["problem_id", "answer"]).to_pylist()}
    ident = {"model": model, "dataset": dataset, "sampling": sampling}
    rows, counts = [], Counter()
    for path in samples:
        for s in read_table(path, SAMPLES, columns=["problem_id", "sample_index", "text"]).to_pylist():
            ref = (probs.get(s["problem_id"]) or {}).get("answer")
            if ref is None:
                continue
            j = judge(s["text"], ref)
            counts["samples"] += 1
            counts["answered"] += j["answer"] is not None
            counts["correct"] += j["correct"]
            for kind in j["kinds"]:
                counts[kind] += 1
                counts[kind + "_correct"] += j["correct"]
                rows.append({**ident, "problem_id": s["problem_id"], "sample_index": s["sample_index"], "kind": kind,
                             "answer": j["answer"], "reference": ref, "correct": j["correct"], **j["rules"],
                             "rule_verdicts": ", ".join(f"{r}: {'right' if v else 'wrong'}"
                                                        for r, v in j["verdicts"].items())})
    rows.sort(key=lambda r: (r["kind"], r["problem_id"], r["sample_index"]))
    flagged_correct = len({(r["problem_id"], r["sample_index"]) for r in rows if r["correct"]})
    summary = {**ident, **{k: counts[k] for k in ("samples", "answered", "correct", "extraction",
                                                   "extraction_correct", "equivalence")},
               "share_of_correct": flagged_correct / counts["correct"] if counts["correct"] else None}
    write_table(outputs["samples"], pa.Table.from_pylist(rows, schema=JUDGEMENT), JUDGEMENT, metadata=summary)
    write_table(outputs["summary"], pa.Table.from_pylist([summary], schema=JUDGEMENT_SUMMARY), JUDGEMENT_SUMMARY,
                metadata=summary)
    log.info("%s/%s/%s: %d of %d samples depend on the extraction rule, %d correct ones on math-verify's "
             "equivalence", model, dataset, sampling, counts["extraction"], counts["samples"], counts["equivalence"])
    return summary
