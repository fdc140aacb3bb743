"""Regressions from the verifier review: math parsing and extraction, code fences, and the gold audit's repeats."""

from __future__ import annotations

import pytest

from ttscale.verify.code import extract_code
from ttscale.verify.math import canonical_key, equivalent, extract_answer


@pytest.mark.parametrize(
    ("reference", "answer"),
    [("2", "(1, 2)"), ("3", "2, 3"), ("1", "1+x^2"), ("(3, 4)", "4")],
)
def test_structured_answers_are_not_read_as_their_last_number(reference, answer):
    assert not equivalent(reference, answer)


@pytest.mark.parametrize(
    ("answer", "key"),
    [("1{,}000", "1000"), ("9{,}000{,}000", "9000000"), ("\\$18", "18"), ("1/2", "1/2"), ("0.5", "1/2"),
     ("\\frac{1}{2}", "1/2"), ("5 dollars", "5")],
)
def test_canonical_keys(answer, key):
    assert canonical_key(answer) == key


def test_tuples_and_currency_keep_their_meaning():
    assert canonical_key("(1, 2)") != "2" and canonical_key("(1, 2)") == canonical_key("(1,2)")
    assert equivalent("18", "\\$18") and equivalent("1000", "1{,}000") and equivalent("(3, 4)", "(3,4)")
    assert equivalent("\\frac{1}{2}", "0.5") and equivalent("0.5", "1/2")


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("The answer is 10 - 4 = 6.", "6"),
        ("the answer is 48 / 2 = 24.", "24"),
        ("The answer is (3, 4).", "(3, 4)"),
        ("I first thought the answer is 5 ... #### 7", "7"),
        ("The answer is 42 apples.", "42"),
        ("The answer is: **42**", "42"),
        ("The answer is 2x + 1.", "2x + 1"),
        ("#### 10 - 4 = 6", "6"),
        ("The answer is 12. \\boxed{13}", "13"),  # \boxed still wins
    ],
)
def test_extract_answer_after_answer_is(text, answer):
    assert extract_answer(text) == answer


@pytest.mark.parametrize(
    ("response", "code"),
    [
        ("```Python\nprint(1)\n```\nThis prints 1.", "print(1)"),
        ("```cpp\nint main() {}\n```\nAnd in Python:\n```python\nprint(2)\n```", "print(2)"),
        ("Here:\r\n```python\r\nprint(1)\r\n```\r\nDone", "print(1)"),
        ("```python\ns = '```'\nprint(s)\n```\n", "s = '```'\nprint(s)"),
        ("```python\nx = 1\n```\nOutput:\n```\n1\n```", "x = 1"),  # the first python-or-untagged block
        ("Here it is: ```python\nx = 3\n```", "x = 3"),
        ("```python\ndef f():\n    return 1```\nDone.", "def f():\n    return 1"),
        ("```python3.11\nx = 4\n```", "x = 4"),
        ("```cpp\nint x;\n```", None),  # only another language: no Python
    ],
)
def test_extract_code_pairs_fences_at_line_starts(response, code):
    assert extract_code(response) == code


def test_audit_runs_every_repeat(monkeypatch):
    """Bookkeeping only (a fake sandbox; real runs are in the sandbox tests): repeats of one reference
    solution must each reach the sandbox, or a flaky test could never be seen."""
    from ttscale.verify import verifiers
    from ttscale.verify.audit import audit_problems

    seen: list[dict] = []

    def alternating(tasks, backend, limits, workers, box):
        out = {}
        for t in tasks:
            seen.append(t)
            out[t["id"]] = {"status": "passed" if len(seen) % 2 else "failed", "tail": "boom"}
        return out

    monkeypatch.setattr(verifiers, "run_tasks", alternating)
    problem = {"problem_id": "p0", "task": "code", "solution": "def f():\n    return 1\n", "tests": "assert f() == 1",
               "test_style": "asserts", "entry_point": "f", "metadata": "{}"}
    math = {"problem_id": "m0", "task": "math", "solution": "so \\boxed{2}", "answer": "2", "metadata": "{}"}
    rows = {r["problem_id"]: r for r in audit_problems([problem, math, {"problem_id": "n0"}], {}, repeats=3)}
    assert len(seen) == 3 and {t["code"] for t in seen} == {problem["solution"]}
    assert rows["p0"]["runs"] == 3 and rows["p0"]["passes"] == 2 and rows["p0"]["verdict"] == "flaky"
    assert rows["m0"]["runs"] == 1 and rows["m0"]["verdict"] == "ok"
    assert rows["n0"]["verdict"] == "no_solution"
