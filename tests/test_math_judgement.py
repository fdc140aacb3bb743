"""The math analogue of false positives (issue 23): samples whose verdict depends on the extraction rule or
rests on math-verify's equivalence are listed and counted per run, and the report writes their tables."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from ttscale.io import write_table
from ttscale.report.imperfect import judgement_files, make_judgement_report
from ttscale.schemas import PROBLEMS, SAMPLES
from ttscale.verify.judgement import judge, judgement_run, rule_answers


def test_judgement_calls_are_recognised():
    assert judge("3 + 3 = 6. The answer is 6.", "6")["kinds"] == []
    boxed_vs_stated = judge("\\boxed{6} or rather, the answer is 7", "6")
    assert boxed_vs_stated["kinds"] == ["extraction"] and boxed_vs_stated["correct"]
    assert boxed_vs_stated["verdicts"] == {"boxed": True, "answer_is": False, "last_number": False}
    assert judge("The answer is 12/2", "6")["kinds"] == ["equivalence"]  # an expression equal to 6
    assert judge("The answer is 0.5", "\\frac{1}{2}")["kinds"] == ["equivalence"]
    assert judge("The answer is 6.0", "6")["kinds"] == []  # the same number, no judgement call
    assert judge("The answer is 7", "6")["kinds"] == []  # wrong under every rule
    assert judge("I do not know", "6")["answer"] is None
    assert rule_answers("#### 5\nso the last number is 9") == {"boxed": None, "answer_is": "5", "last_number": "9"}


def test_judgement_run_lists_and_counts(tmp_path):
    base = {"position": 0, "dataset": "m", "task": "math", "question": "q", "prompt_mode": "chat", "messages": "[]",
            "completion_prompt": "", "assistant_prefix": "", "stop": [], "tests": None, "test_style": None,
            "entry_point": None, "solution": None, "level": None, "metadata": json.dumps({})}
    problems = tmp_path / "problems.parquet"
    write_table(problems, pa.Table.from_pylist([{**base, "problem_id": "a", "answer": "6"},
                                                {**base, "problem_id": "b", "position": 1, "answer": "0.5"}],
                                               schema=PROBLEMS), PROBLEMS)
    texts = [("a", "The answer is 6."), ("a", "\\boxed{6}, no wait, the answer is 7"), ("a", "The answer is 12/2"),
             ("b", "The answer is 1/2"), ("b", "The answer is 0.5"), ("b", "no idea")]
    samples = tmp_path / "samples.parquet"
    write_table(samples, pa.Table.from_pylist(
        [{"problem_id": p, "sample_index": i, "seed": i, "prompt": "", "text": t, "finish_reason": "stop",
          "prompt_tokens": 1, "completion_tokens": 1, "cumulative_logprob": None, "latency_s": None}
         for i, (p, t) in enumerate(texts)], schema=SAMPLES), SAMPLES)
    out = {"samples": tmp_path / "j.parquet", "summary": tmp_path / "s.parquet"}
    summary = judgement_run([samples], problems, out, "mod", "m", "default-00000000")
    assert (summary["samples"], summary["answered"], summary["correct"]) == (6, 5, 5)
    assert (summary["extraction"], summary["extraction_correct"], summary["equivalence"]) == (1, 1, 2)
    assert summary["share_of_correct"] == 3 / 5
    listed = pq.read_table(out["samples"]).to_pylist()
    assert [(r["kind"], r["problem_id"], r["sample_index"]) for r in listed] == [
        ("equivalence", "a", 2), ("equivalence", "b", 3), ("extraction", "a", 1)]
    written = make_judgement_report([out["summary"]], [out["samples"]], tmp_path / "report")
    assert sorted(written) == sorted(p for p, _ in judgement_files(tmp_path / "report"))
    assert "12/2" in (tmp_path / "report" / "tables" / "math_judgement_samples.csv").read_text()
