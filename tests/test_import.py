"""Importers: plain JSONL and Large Language Monkeys YAML dumps land in the shard format and analyze."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from ttscale.cli import main
from ttscale.errors import DataError
from ttscale.importers import import_samples
from ttscale.io import read_table
from ttscale.schemas import PROBLEMS, SAMPLES, SCORES, VERDICTS


def write_llmonk(folder: Path, problems: int = 5, samples: int = 16) -> Path:
    folder.mkdir(parents=True)
    for i in range(problems):
        answer = 10 + i
        texts, corrects = [], []
        for j in range(samples):
            ok = (i + j) % (i + 2) == 0
            texts.append(f"Reasoning step.\n#### {answer if ok else answer + 1 + j % 2}")
            corrects.append(ok)
        doc = {"prompt": f"Question: q{i}\nAnswer:", "question": f"q{i}", "samples": texts,
               "gt_answer": f"Because.\n#### {answer}", "is_corrects": corrects}
        (folder / f"{i}.yaml").write_text(yaml.safe_dump(doc))
    return folder


def test_llmonk_import(tmp_path):
    src = write_llmonk(tmp_path / "dump")
    out = import_samples("llmonk", src, tmp_path / "exp", "m", "gsm", block_size=8)
    assert out["problems"] == 5 and out["samples"] == 80 and out["blocks"] == 2
    probs = read_table(tmp_path / "exp" / "problems" / "gsm.parquet", PROBLEMS).to_pylist()
    assert [p["problem_id"] for p in probs] == ["0", "1", "2", "3", "4"]
    assert probs[2]["answer"] == "12" and probs[2]["task"] == "math" and probs[2]["completion_prompt"].startswith("Q")
    part = tmp_path / "exp" / "verdicts" / f"model=m/dataset=gsm/sampling={out['sampling']}"
    verdicts = [read_table(p, VERDICTS) for p in sorted(part.glob("*.parquet"))]
    rows = [r for t in verdicts for r in t.to_pylist()]
    assert len(rows) == 80
    first = next(r for r in rows if r["problem_id"] == "0" and r["sample_index"] == 0)
    assert first["correct"] and first["answer_key"] == "10" and first["status"] == "passed"
    wrong = next(r for r in rows if not r["correct"])
    assert wrong["answer_key"] is not None and wrong["status"] == "failed"
    samples = read_table(next((tmp_path / "exp" / "samples").rglob("*.parquet")), SAMPLES)
    assert samples["text"][0].as_py().startswith("Reasoning")


def test_jsonl_import_with_scores_and_tokens(tmp_path, embedded_model):
    lines = []
    for p in range(3):
        for i in range(4):
            lines.append({"problem_id": f"p{p}", "text": f"answer {i % 2}", "prompt": f"prompt {p}",
                          "correct": i % 2 == 0, "answer": str(i % 2), "scores": {"judge": i / 4},
                          "question": f"question {p}", "level": str(p % 2), "cumulative_logprob": -1.0 * i})
    src = tmp_path / "samples.jsonl"
    src.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    out = import_samples("jsonl", src, tmp_path / "exp", "m", "d", tokenizer=str(embedded_model))
    assert out["scorers"] == ["judge"]
    shard = next((tmp_path / "exp" / "samples").rglob("*.parquet"))
    s = read_table(shard, SAMPLES).to_pylist()
    assert all(r["completion_tokens"] > 0 and r["prompt_tokens"] > 0 for r in s)
    sc = read_table(next((tmp_path / "exp" / "scores").rglob("*.parquet")), SCORES).to_pylist()
    assert [r["score"] for r in sc[:4]] == [0, 0.25, 0.5, 0.75]
    v = read_table(next((tmp_path / "exp" / "verdicts").rglob("*.parquet")), VERDICTS).to_pylist()
    assert {r["answer_key"] for r in v} == {"0", "1"}
    probs = read_table(tmp_path / "exp" / "problems" / "d.parquet", PROBLEMS).to_pylist()
    assert [p["level"] for p in probs] == ["0", "1", "0"]


@pytest.mark.parametrize("lines, message", [
    (['{"problem_id": "a", "text": "x"}'], "pass --verify"),
    (['{"problem_id": "a", "text": "x", "correct": true}', "{not json"], "not JSON"),
    (['{"text": "x", "correct": true}'], "needs a `problem_id`"),
    (['{"problem_id": "a", "correct": true}'], "needs `text`"),
    (['{"problem_id": "a", "text": "x", "correct": true, "sample_index": 0}',
      '{"problem_id": "a", "text": "y", "correct": true, "sample_index": 0}'], "sample 0 occurs twice"),
    (['{"problem_id": "a", "text": "x", "correct": true, "level": "1"}',
      '{"problem_id": "a", "text": "y", "correct": true, "level": "2"}'], "has level '2' here but '1' before"),
    (['{"problem_id": "a", "text": "x", "correct": true, "status": "great"}'], "status 'great'"),
])
def test_jsonl_errors_name_the_problem(tmp_path, lines, message):
    src = tmp_path / "bad.jsonl"
    src.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message):
        import_samples("jsonl", src, tmp_path / "exp", "m", "d")


def test_import_then_analyze_with_the_cli(tmp_path, capsys):
    src = write_llmonk(tmp_path / "dump", problems=8, samples=20)
    assert main(["import", "llmonk", str(src), "--model", "m", "--dataset", "gsm", "--results", str(tmp_path),
                 "--experiment", "e"]) == 0
    assert "imported 160 samples of 8 problems" in capsys.readouterr().out
    cfg = tmp_path / "a.yaml"
    cfg.write_text(yaml.safe_dump({"analysis": {"bootstrap": 100, "fit": {"bootstrap": 20}},
                                   "datasets": {"gsm": {"exclude": ["7"]}}}))
    assert main(["analyze", "--results", str(tmp_path), "--experiment", "e", "--configfile", str(cfg)]) == 0
    report = tmp_path / "e" / "report"
    assert (report / "figures" / "coverage_gsm.png").stat().st_size > 10_000
    summary = (report / "tables" / "summary.csv").read_text().splitlines()
    assert summary[1].split(",")[3] == "7"  # problems, after excluding one
    curves = pq.read_table(tmp_path / "e" / "analysis" / "curves.parquet").to_pylist()
    assert {r["selector"] for r in curves if r["metric"] == "accuracy"} == {"vote"}
    assert main(["import", "jsonl", str(tmp_path / "missing.jsonl"), "--model", "m", "--dataset", "d",
                 "--results", str(tmp_path)]) == 1
    assert "does not exist" in capsys.readouterr().err
