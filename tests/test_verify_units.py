"""Answer extraction, canonical keys, math equivalence, code extraction and verdict bookkeeping."""

from __future__ import annotations

import json

import pytest

from ttscale.schemas import VERDICT_STATUSES
from ttscale.verify import verify_items
from ttscale.verify.code import asserts_program, extract_code
from ttscale.verify.math import canonical_key, equivalent, extract_answer
from ttscale.verify.verifiers import final_answer


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("so the total is \\boxed{42}.", "42"),
        ("\\boxed{\\frac{1}{2}} and later \\boxed{3}", "3"),
        ("nested \\boxed{\\frac{\\sqrt{2}}{2}}", "\\frac{\\sqrt{2}}{2}"),
        ("7 + 5 = 12. The answer is 12.", "12"),
        ("The final answer is: -17 apples", "-17"),
        ("The answer is $\\frac{3}{4}$.", "\\frac{3}{4}"),
        ("Natalia sold 48 clips.\n#### 72", "72"),
        ("#### 1,234", "1234"),
        ("first 3, then 4.5", "4.5"),
        ("nothing numeric here", None),
        ("", None),
        ("cut off \\boxed{12", "12"),  # unbalanced box: falls back to the last number
    ],
)
def test_extract_answer(text, answer):
    assert extract_answer(text) == answer


def test_equivalent_forms_share_a_key_and_verify():
    forms = ["1/2", "0.5", "\\frac{1}{2}", "\\frac12", "0.50", "$\\dfrac{1}{2}$"]
    assert len({canonical_key(f) for f in forms}) == 1
    assert all(equivalent("\\frac{1}{2}", f) for f in forms)
    assert canonical_key("12") == canonical_key("12.0") != canonical_key("13")
    assert not equivalent("12", "13") and not equivalent("12", None)
    assert equivalent("3\\sqrt{2}", "\\sqrt{18}")


def test_code_extraction():
    assert extract_code("Sure:\n```python\ndef f():\n    return 1\n```\nDone") == "def f():\n    return 1"
    assert extract_code("```\nx = 1\n```") == "x = 1"
    assert extract_code("```python\ndef f():\n    return 1") == "def f():\n    return 1"  # cut off
    assert extract_code("    return x\n") == "    return x\n"
    assert extract_code("  \n") is None and extract_code(None) is None
    assert asserts_program("def f():\n", "    return 1\n") == "def f():\n    return 1\n"
    program = asserts_program("import m\ndef f():\n", "def f():\n    return 2")
    assert program == "import m\ndef f():\n\ndef f():\n    return 2"


def test_final_answer_for_other_tasks():
    assert final_answer("thinking...\n<answer>blue</answer>") == "blue"
    assert final_answer("The answer is: yes.") == "yes"
    assert final_answer("line one\nlast line\n\n") == "last line"
    assert final_answer("") is None


def _math_item(text: str, answer: str, pid: str = "p") -> dict:
    return {"problem_id": pid, "sample_index": 0, "text": text, "task": "math", "answer": answer,
            "assistant_prefix": "", "metadata": "{}"}


def test_math_verdicts_and_statuses():
    items = [_math_item("The answer is 0.5.", "1/2"), _math_item("The answer is 3.", "1/2"),
             _math_item("I don't know.", "1/2")]
    v = verify_items(items, {})
    assert [x["status"] for x in v] == ["passed", "failed", "no_answer"]
    assert [x["correct"] for x in v] == [True, False, False]
    assert v[0]["answer_key"] == "1/2" and v[2]["answer_key"] is None
    assert all(x["status"] in VERDICT_STATUSES for x in v)


def test_reasoning_gym_other_task_uses_its_scorer():
    import reasoning_gym

    ds = reasoning_gym.create_dataset("letter_counting", size=2, seed=3)
    meta = {"reasoning_gym": {"task": "letter_counting", "seed": 3, "index": 1, "options": {}}}
    item = {"problem_id": "x", "sample_index": 0, "task": "other", "answer": str(ds[1]["answer"]),
            "assistant_prefix": "", "metadata": json.dumps(meta)}
    right = verify_items([{**item, "text": f"The answer is {ds[1]['answer']}."}], {})[0]
    wrong = verify_items([{**item, "text": "The answer is 99999."}], {})[0]
    assert right["correct"] and not wrong["correct"]


def test_unknown_verifier_name_is_a_config_error():
    from ttscale.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown verifier 'lean'"):
        verify_items([_math_item("1", "1")], {"by_task": {"math": "lean"}})


def test_process_session_sees_answers_that_arrive_together():
    """Two answers written at once must both be received: a buffered reader would swallow the
    second and the next recv() would wait out its timeout and call the sandbox dead."""
    import sys
    import time

    from ttscale.verify.sandbox import ProcessSession

    script = ("import sys; sys.stdin.readline(); sys.stdout.write('{\"id\": 0}\\n{\"id\": 1}\\n'); "
              "sys.stdout.flush(); sys.stdin.readline()")
    session = ProcessSession([sys.executable, "-c", script], {"limits": True})
    try:
        start = time.monotonic()
        assert session.recv(5.0) == {"id": 0}
        assert session.recv(5.0) == {"id": 1}
        assert time.monotonic() - start < 4.0
        with pytest.raises(TimeoutError):
            session.recv(0.2)
    finally:
        session.close()


def test_humaneval_command_runs_identical_completions_once(tmp_path, monkeypatch):
    """Bookkeeping only (the real sandbox is in test_verify_agreement): duplicates share one run and
    still get one result line each, in the input order."""
    from ttscale.verify import cli

    seen: list[dict] = []

    def fake_run_tasks(tasks, backend, limits, workers, prepare=None):
        assert prepare is None and not any("after" in t for t in tasks)  # no reference run asked for
        seen.extend(tasks)
        return {t["id"]: {"status": "passed" if "return 1" in t["code"] else "failed"} for t in tasks}

    monkeypatch.setattr(cli, "run_tasks", fake_run_tasks)
    rows = [("HumanEval/0", "    return 1\n"), ("HumanEval/0", "    return 2\n"), ("HumanEval/0", "    return 1\n"),
            ("HumanEval/1", "    return 1\n")]
    f = tmp_path / "s.jsonl"
    f.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in rows))
    scores = cli.evaluate(str(f), [1], "docker", workers=1, timeout=3.0)
    assert len(seen) == 3
    out = [json.loads(x) for x in (tmp_path / "s.jsonl_results.jsonl").read_text().splitlines()]
    assert [(o["task_id"], o["passed"]) for o in out] == [("HumanEval/0", True), ("HumanEval/0", False),
                                                          ("HumanEval/0", True), ("HumanEval/1", True)]
    assert scores["pass@1"] == pytest.approx((2 / 3 + 1) / 2)


def test_humaneval_command_sends_references_first_and_scales_from_them(tmp_path, monkeypatch):
    """Bookkeeping of --reference-limits (the real sandbox is in test_verify_reference): one task per
    problem's canonical solution, first; each distinct sample after its own problem's reference, and
    prepared with the CPU limit that reference's time gives (none where the reference failed)."""
    from ttscale.verify import cli

    sent: list[dict] = []

    def fake_run_tasks(tasks, backend, limits, workers, prepare=None):
        results = {}
        for t in tasks:
            if "after" in t:  # as the pool does: prepare gets the task without `after`
                t = prepare({k: v for k, v in t.items() if k != "after"}, results[t["after"]])
            sent.append(t)
            ok = "return 1" in t["code"]  # HumanEval/0's canonical solution passes, HumanEval/1's raises
            results[t["id"]] = {"status": "passed" if ok else "failed", "cpu_s": 0.15}
        return results

    monkeypatch.setattr(cli, "run_tasks", fake_run_tasks)
    monkeypatch.setattr(cli, "_problems", lambda _: {
        f"HumanEval/{i}": {"prompt": "def f():\n", "canonical_solution": "    return 1  # canonical\n" if i == 0 else
                           "    raise ValueError\n", "test": "", "entry_point": "f"} for i in (0, 1)})
    rows = [("HumanEval/1", "    return 1\n"), ("HumanEval/0", "    return 2\n"), ("HumanEval/0", "    return 2\n")]
    f = tmp_path / "s.jsonl"
    f.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in rows))
    cli.evaluate(str(f), [1], "docker", workers=2, timeout=3.0, reference={"factor": 4, "floor_s": 0.2})
    refs, samples = sent[:2], sent[2:]
    assert [r["id"] for r in refs] == [0, 1] and all("canonical" in r["code"] or "raise" in r["code"] for r in refs)
    assert [s["id"] for s in samples] == [2, 3] and not any("after" in s for s in samples)
    # HumanEval/1's reference fails: its sample keeps the fixed limit; HumanEval/0's took 0.15 s: 4 x 0.15
    assert [s["cpu_limit_s"] for s in samples] == [None, 0.6]


def test_runner_precompiles_small_programs_only():
    """The runner compiles a sample before forking (children inherit the code object) only when that
    is safe and cheap; anything else is left to the child, which reports the error as the sample's."""
    import warnings

    from ttscale.verify import runner

    assert runner.precompiled("def f():\n    return 1\n").co_filename == "<sample>"
    for bad in ("def f(:\n", "x = 1\x00\n", "x = " + "-" * 50_000 + "1\n", "x = " + "a." * 20_000 + "b\n"):
        assert runner.precompiled(bad) is None
    assert runner.precompiled("x = 1\n" * (runner.PRECOMPILE_MAX // 6 + 1)) is None  # large: the child compiles it
    noisy = "ok = 1 is 1\n"  # a SyntaxWarning: the sample's output, never the runner's
    with warnings.catch_warnings(record=True) as direct:
        warnings.simplefilter("always")
        compile(noisy, "<sample>", "exec")
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        assert runner.precompiled(noisy) is not None
    assert direct and not ours


def _run_task_child(task: dict, lim: dict, index: int, pidfd: bool) -> dict:
    from ttscale.verify import runner

    if not pidfd:
        runner._pidfd = lambda pid: None
    return runner.run_task(task, lim, index)


def _run_task_fresh(task: dict, lim: dict, index: int, pidfd: bool = True) -> dict:
    """runner.run_task in a fresh interpreter, as in a sandbox, where the runner is the first process:
    by the time these tests run, the suite's process holds engine threads and state from other tests,
    and the runner forks the tests' process and the sample from whatever calls it."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_run_task_child, (task, lim, index, pidfd))

def test_runner_tasks_run_precompiled_code(tmp_path):
    """run_task on the host (outside a sandbox it only cleans up its own children): a precompiled
    program passes, one that does not compile is the child's syntax_error with its line, and a
    stdin/stdout program (compiled once) answers every test case."""
    from ttscale.verify.sandbox import LIMITS

    lim = {**LIMITS, "wall_s": 10, "memory_mb": 1 << 20, "workroot": str(tmp_path)}  # the test process is large
    tests = "def check(candidate):\n    assert candidate(2) == 4\n"
    good = _run_task_fresh({"id": 1, "kind": "asserts", "code": "def sq(x):\n    return x * x\n", "tests": tests,
                            "entry_point": "sq"}, lim, 0)
    assert good["status"] == "passed" and good["tests_passed"] == 1
    broken = _run_task_fresh({"id": 2, "kind": "asserts", "code": "def sq(x):\n    return x *\n", "tests": tests,
                              "entry_point": "sq"}, lim, 1)
    assert broken["status"] == "syntax_error" and "line 2" in broken["error"]
    cases = [{"input": "3\n", "output": "9"}, {"input": "5\n", "output": "25"}]
    program = "import os\nn = int(os.read(0, 64))\nos.write(1, b'%d' % (n * n))\n"  # pytest replaces sys.stdin/out
    stdio = _run_task_fresh({"id": 3, "kind": "stdio", "code": program, "tests": json.dumps(cases)}, lim, 2)
    assert stdio["status"] == "passed" and (stdio["tests_passed"], stdio["tests_total"]) == (2, 2)


@pytest.mark.parametrize("pidfd", [True, False])
def test_runner_waits_for_the_exit_under_the_deadline(tmp_path, pidfd):
    """The runner waits for a sample's exit through a pidfd, or (kernels without one) for the end of
    its pipes and then its exit; either way a sample that closes its pipes and sleeps times out at
    the wall-time limit, and output written just before exiting is all collected."""
    import time

    from ttscale.verify.sandbox import LIMITS

    lim = {**LIMITS, "wall_s": 1.5, "memory_mb": 1 << 20, "workroot": str(tmp_path)}
    tests = "def check(candidate):\n    assert candidate(2) == 4\n"
    start = time.monotonic()
    quiet = _run_task_fresh({"id": 1, "kind": "asserts", "code": "import os, time\nos.closerange(0, 4096)\n"
                             "time.sleep(60)\n", "tests": tests, "entry_point": "sq"}, lim, 0, pidfd)
    assert quiet["status"] == "timeout" and time.monotonic() - start < 20
    loud = "import os\nfor i in range(200):\n    os.write(1, b'%d' % i + b'x' * 1000 + b'\\n')\n"
    cases = [{"input": "", "output": "\n".join(str(i) + "x" * 1000 for i in range(200))}]
    out = _run_task_fresh({"id": 2, "kind": "stdio", "code": loud, "tests": json.dumps(cases)}, lim, 1, pidfd)
    assert out["status"] == "passed", out


def test_flat_json_writes_what_json_dumps_writes():
    """The runner's report encoder: byte for byte json.dumps for flat dicts, json.dumps itself otherwise."""
    from ttscale.verify.runner import flat_json

    cases = [{"id": 3, "status": "passed", "duration": 0.00123, "tail": 'x\n"\\\x00\u00e9\ud800', "error": None,
              "tests_passed": 2, "ok": True, "no": False, "big": 10 ** 30, "neg": -0.0},
             {}, {"a": float("inf")}, {"a": [1, {"b": 2}]}, {1: "x"}, {"a": float("nan")}]
    for case in cases:
        assert flat_json(case) == json.dumps(case)
