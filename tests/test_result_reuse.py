"""A grown block keeps the verdicts and scores its old shards already hold (verify and score stages).

Adding problems renames the last problem block (p00000-00002 -> p00000-00003). Generation copies the
old samples (tests/test_block_reuse.py); here verify_block and score_block take their verdicts and
scores from the result shards under the old name, and only the new problem's samples are judged.
Math verdicts and the model-free log-probability scorer: no sandbox, no engine.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ttscale.verify as verify_mod
from ttscale.io import read_metadata, write_table
from ttscale.schemas import PROBLEMS, SAMPLES
from ttscale.score import score_block
from ttscale.verify import verify_block

OLD, NEW = "p00000-00002_s000000-000004", "p00000-00003_s000000-000004"
CONFIG = {"scorers": {"lp": {"kind": "logprob"}}}


def _problems(path: Path) -> Path:
    rows = [{f.name: None for f in PROBLEMS} | {"problem_id": f"q{i}", "position": i, "dataset": "d", "task": "math",
                                                  "question": f"{i} + {i}?", "answer": str(2 * i), "metadata": "{}"}
            for i in range(3)]
    write_table(path, pa.Table.from_pylist(rows, schema=PROBLEMS), PROBLEMS)
    return path


def _samples(path: Path, problems: int, edit: dict | None = None) -> Path:
    rows = []
    for p in range(problems):
        for s in range(4):
            answer = 2 * p if s % 2 == 0 else 2 * p + 1
            rows.append({"problem_id": f"q{p}", "sample_index": s, "seed": 100 * p + s, "prompt": f"{p} + {p}?",
                         "text": f"The answer is {answer}.", "finish_reason": "stop", "prompt_tokens": 5,
                         "completion_tokens": 4 + s, "cumulative_logprob": -1.0 - s - p, "latency_s": 0.1})
    for (pid, idx), change in (edit or {}).items():
        next(r for r in rows if (r["problem_id"], r["sample_index"]) == (pid, idx)).update(change)
    write_table(path, pa.Table.from_pylist(rows, schema=SAMPLES), SAMPLES)
    return path


@pytest.fixture
def run(tmp_path):
    """Old block written and verified and scored; the grown block's samples written (same old rows)."""
    samples, verdicts, scores = tmp_path / "samples", tmp_path / "verdicts", tmp_path / "scores"
    for d in (samples, verdicts, scores):
        d.mkdir()
    ident = tmp_path / "identity.json"
    ident.write_text(json.dumps({"verifier": "math"}))
    problems = _problems(tmp_path / "problems.parquet")
    _samples(samples / f"{OLD}.parquet", 2)
    verify_block(samples / f"{OLD}.parquet", problems, verdicts / f"{OLD}.parquet", {}, identity=ident)
    score_block(CONFIG, "lp", samples / f"{OLD}.parquet", problems, scores / f"{OLD}.parquet", identity=ident)
    _samples(samples / f"{NEW}.parquet", 3)
    return tmp_path, problems, ident


def _judged(monkeypatch) -> list[str]:
    """Records the problem ids of the samples the verifiers are given."""
    seen: list[str] = []
    real = verify_mod.verify_items

    def recording(items, settings):
        seen.extend(it["problem_id"] for it in items)
        return real(items, settings)

    monkeypatch.setattr(verify_mod, "verify_items", recording)
    return seen


def _fresh(tmp_path: Path, problems: Path, name: str) -> tuple[pa.Table, pa.Table]:
    """The grown block verified and scored from scratch, in a folder of its own."""
    d = tmp_path / name
    (d / "samples").mkdir(parents=True)
    shutil.copy(tmp_path / "samples" / f"{NEW}.parquet", d / "samples" / f"{NEW}.parquet")
    v = verify_block(d / "samples" / f"{NEW}.parquet", problems, d / "v.parquet", {})
    s = score_block(CONFIG, "lp", d / "samples" / f"{NEW}.parquet", problems, d / "s.parquet")
    assert v["reused"] == s["reused"] == 0
    return pq.read_table(d / "v.parquet"), pq.read_table(d / "s.parquet")


def test_grown_block_judges_only_the_new_problem(run, monkeypatch):
    tmp_path, problems, ident = run
    seen = _judged(monkeypatch)
    out = tmp_path / "verdicts" / f"{NEW}.parquet"
    summary = verify_block(tmp_path / "samples" / f"{NEW}.parquet", problems, out, {}, identity=ident)
    assert seen == ["q2"] * 4 and summary["reused"] == 8 and summary["reused_from"] == [f"{OLD}.parquet"]
    scored = score_block(CONFIG, "lp", tmp_path / "samples" / f"{NEW}.parquet", problems,
                         tmp_path / "scores" / f"{NEW}.parquet", identity=ident)
    assert scored["reused"] == 8
    fresh_v, fresh_s = _fresh(tmp_path, problems, "fresh")
    # the same rows in the same order as a block judged from scratch (durations aside)
    timeless = [n for n in fresh_v.column_names if n != "duration_s"]
    assert pq.read_table(out).select(timeless).to_pylist() == fresh_v.select(timeless).to_pylist()
    assert pq.read_table(tmp_path / "scores" / f"{NEW}.parquet").to_pylist() == fresh_s.to_pylist()
    assert read_metadata(out)["rows"] == 12


def test_a_changed_sample_or_identity_is_judged_again(run, monkeypatch):
    tmp_path, problems, ident = run
    seen = _judged(monkeypatch)
    # one old sample's text differs in the grown block: that one is verified again
    _samples(tmp_path / "samples" / f"{NEW}.parquet", 3, {("q0", 1): {"text": "The answer is 0."}})
    out = tmp_path / "verdicts" / f"{NEW}.parquet"
    assert verify_block(tmp_path / "samples" / f"{NEW}.parquet", problems, out, {}, identity=ident)["reused"] == 7
    assert sorted(seen) == ["q0"] + ["q2"] * 4
    assert pq.read_table(out).to_pylist()[1]["correct"] is True  # the new text's verdict, not the old one's
    # a changed log-probability is scored again even with the same text
    _samples(tmp_path / "samples" / f"{NEW}.parquet", 3, {("q1", 2): {"cumulative_logprob": -9.0}})
    scores = tmp_path / "scores" / f"{NEW}.parquet"
    assert score_block(CONFIG, "lp", tmp_path / "samples" / f"{NEW}.parquet", problems, scores,
                       identity=ident)["reused"] == 7
    assert pq.read_table(scores).to_pylist()[6]["score"] == -9.0
    # another identity (a changed verifier setting) reuses nothing
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"verifier": "math", "limits": 1}))
    seen.clear()
    assert verify_block(tmp_path / "samples" / f"{NEW}.parquet", problems, out, {}, identity=other)["reused"] == 0
    assert len(seen) == 12


def test_regenerated_or_damaged_old_shards_are_not_trusted(run, monkeypatch, caplog):
    tmp_path, problems, ident = run
    caplog.set_level(logging.INFO, "ttscale.reuse")
    seen = _judged(monkeypatch)
    # the old sample shard was regenerated after its verdicts were written: its verdicts may be stale
    _samples(tmp_path / "samples" / f"{OLD}.parquet", 2, {("q1", 3): {"text": "The answer is 2."}})
    out = tmp_path / "verdicts" / f"{NEW}.parquet"
    assert verify_block(tmp_path / "samples" / f"{NEW}.parquet", problems, out, {}, identity=ident)["reused"] == 0
    assert len(seen) == 12 and "its sample shard changed" in caplog.text
    # a damaged sibling result shard is skipped with a warning, never an error
    (tmp_path / "scores" / f"{OLD}.parquet").write_bytes(b"not parquet")
    scored = score_block(CONFIG, "lp", tmp_path / "samples" / f"{NEW}.parquet", problems,
                         tmp_path / "scores" / f"{NEW}.parquet", identity=ident)
    assert scored["reused"] == 0 and "not reusing results from" in caplog.text
    # without an identity (imports, direct calls) nothing is reused and none is recorded
    summary = verify_block(tmp_path / "samples" / f"{NEW}.parquet", problems, out, {})
    assert summary["reused"] == 0 and "identity" not in read_metadata(out)
