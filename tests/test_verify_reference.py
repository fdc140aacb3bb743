"""CPU-time limits scaled from the reference solution (verify.reference_limits; ttscale.verify.reference)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from hostile.cases import PROMPT, TESTS
from test_verify_fidelity import _limits, _runner

from ttscale.errors import DataError
from ttscale.io import read_table, write_table
from ttscale.keys import verify_identity
from ttscale.schemas import PROBLEMS, SAMPLES, VERDICTS
from ttscale.verify import reference, verify_block
from ttscale.verify.audit import AUDIT, audit_dataset

LOOP = "def add(a, b):\n    while True:\n        pass\n"
GOOD = "def add(a, b):\n    return a + b\n"


def _task(i: int, code: str, limit: float | None) -> dict:
    return {"id": i, "kind": "asserts", "code": PROMPT + code, "tests": TESTS, "entry_point": "add",
            "prompt": PROMPT, "cpu_limit_s": limit}


def test_a_scaled_limit_stops_a_loop_at_its_cpu_time(tmp_path):
    """A fraction of a second of CPU, which RLIMIT_CPU cannot express: the tests' process watches the
    sample's CPU time and ends it there (a loop at the top level too); a correct sample under the same
    limit passes and reports the CPU time it used."""
    top = "while True:\n    pass\n" + GOOD
    got = _runner([_task(0, GOOD, 0.2), _task(1, LOOP, 0.2), _task(2, top, 0.3)], _limits(tmp_path, wall_s=30, cpu_s=2))
    assert got[0]["status"] == "passed" and 0 < got[0]["cpu_s"] < 0.2
    for r, limit in ((got[1], 0.2), (got[2], 0.3)):
        assert r["status"] == "timeout" and f"CPU time limit of {limit:g} s" in r["error"], r
        assert limit <= r["cpu_s"] < 2  # stopped near its scaled limit, not at RLIMIT_CPU's 2 s


def test_the_rule_and_its_defaults():
    rule = reference.policy({"reference_limits": {"factor": 4}})
    assert rule == {"factor": 4.0, "floor_s": 0.2}
    assert reference.policy({}) is None and reference.policy({"reference_limits": None}) is None
    assert reference.cpu_limit(0.01, rule, 3) == 0.2  # the floor
    assert reference.cpu_limit(0.5, rule, 3) == 2.0  # factor x reference
    assert reference.cpu_limit(2.0, rule, 3) == 3  # never above the fixed limit
    assert reference.cpu_limit(None, rule, 3) is None  # no reference: the fixed limit
    runs = [{"correct": True, "cpu_s": 0.03}, {"correct": True, "cpu_s": 0.01}, {"correct": False, "cpu_s": 9.0},
            {"correct": True, "cpu_s": 0.02}]
    assert reference.reference_cpu(runs) == 0.02  # median of the passing runs
    assert reference.reference_cpu([{"correct": False, "cpu_s": 1.0}]) is None


def test_the_policy_is_part_of_the_verify_identity():
    config = {"datasets": {"toy": {"loader": "human_eval"}}, "verify": {"limits": {"cpu_s": 3}}}
    fixed = verify_identity(config, "toy")
    scaled = verify_identity({**config, "verify": {**config["verify"], "reference_limits": {"factor": 4}}}, "toy")
    other = verify_identity({**config, "verify": {**config["verify"], "reference_limits": {"factor": 8}}}, "toy")
    assert len({json.dumps(x, sort_keys=True) for x in (fixed, scaled, other)}) == 3


def test_reference_limits_without_an_audit_is_a_clear_error():
    with pytest.raises(DataError, match="verify.reference_limits"):
        reference.apply([{"problem_id": "p"}], {"reference_limits": {"factor": 4}}, None)


def _tables(tmp):
    problem = {"problem_id": "toy/add", "position": 0, "dataset": "toy", "task": "code", "question": PROMPT,
               "prompt_mode": "chat", "messages": "[]", "completion_prompt": "", "assistant_prefix": "", "stop": [],
               "answer": None, "tests": TESTS, "test_style": "asserts", "entry_point": "add",
               "solution": PROMPT + "    return a + b\n", "level": None, "metadata": json.dumps({"prompt": PROMPT})}
    problems = tmp / "problems.parquet"
    write_table(problems, pa.Table.from_pylist([problem], schema=PROBLEMS), PROBLEMS)
    rows = [{"problem_id": "toy/add", "sample_index": i, "seed": i, "prompt": "", "text": t, "finish_reason": "stop",
             "prompt_tokens": 1, "completion_tokens": 1, "cumulative_logprob": None, "latency_s": None}
            for i, t in enumerate([f"```python\n{GOOD}```", f"```python\n{LOOP}```"])]
    samples = tmp / "samples.parquet"
    write_table(samples, pa.Table.from_pylist(rows, schema=SAMPLES), SAMPLES)
    return problems, samples


@pytest.mark.docker
def test_audit_records_reference_times_and_verify_scales_from_them(tmp_path):
    """The gold audit records the reference solution's CPU time; the verify stage with
    reference_limits gives each sample max(floor, factor x that time), in a real sandbox."""
    problems, samples = _tables(tmp_path)
    settings = {"backend": "docker", "limits": {"wall_s": 20, "cpu_s": 5}, "reference_limits": {"floor_s": 0.25}}
    audit = tmp_path / "audit.parquet"
    audit_dataset(problems, audit, settings, repeats=3, threads=1)
    row = read_table(audit, AUDIT).to_pylist()[0]
    assert row["verdict"] == "ok" and 0 < row["ref_cpu_s"] < 0.25, row
    out = tmp_path / "verdicts.parquet"
    verify_block(samples, problems, out, settings, threads=1, audit=audit)
    good, loop = read_table(out, VERDICTS).to_pylist()
    assert good["status"] == "passed"
    assert loop["status"] == "timeout" and "CPU time limit of 0.25 s" in loop["output_tail"], loop


@pytest.mark.docker
def test_the_humaneval_cli_scales_limits_from_canonical_solutions(tmp_path):
    """`ttscale verify humaneval --reference-limits`: each problem's canonical solution runs first; a loop is
    then stopped at the scaled CPU limit (0.25 s here), a correct completion passes."""
    from ttscale.verify.cli import evaluate

    f = tmp_path / "samples.jsonl"
    rows = [{"task_id": "HumanEval/0", "completion": "    return any(abs(a - b) < threshold for i, a in "
             "enumerate(numbers) for b in numbers[i + 1:])\n"},
            {"task_id": "HumanEval/0", "completion": "    while True:\n        pass\n"}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    evaluate(str(f), [1], "docker", workers=1, timeout=20.0, reference={"factor": 4, "floor_s": 0.25})
    good, loop = (json.loads(x) for x in (tmp_path / "samples.jsonl_results.jsonl").read_text().splitlines())
    assert good["passed"] and loop["status"] == "timeout" and not loop["passed"]
