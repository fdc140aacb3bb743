"""Repository tasks (SWE-bench format): loader, patch extraction, and the swebench verifier on a real
repository in real containers, graded by the swebench package, against hostile and broken patches."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from toy_swebench import FIX, build_all, make_instances, make_repo, patches

from ttscale.errors import DataError
from ttscale.patches import extract_patch, patch_problem
from ttscale.problems import build_problems
from ttscale.problems.swebench import text_files
from ttscale.verify import verify_items
from ttscale.verify.repository import InstanceRunner, grade, run_patches


def _applies(repo: Path, patch: str) -> str:
    """The patched ops.py, by git apply in a scratch clone (the check the containers make)."""
    subprocess.run(["git", "-C", str(repo), "apply", "-"], input=patch, text=True, check=True)
    try:
        return (repo / "calc" / "ops.py").read_text()
    finally:
        subprocess.run(["git", "-C", str(repo), "checkout", "--", "."], check=True)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("swebench")
    repo, instances, path = build_all(folder)
    return {"folder": folder, "repo": repo, "instances": instances, "path": path, "patches": patches(repo)}


# ---- extraction (no containers) ----

def test_extracts_fenced_raw_and_edit_block_patches(tmp_path):
    repo, _ = make_repo(tmp_path / "r")
    gold = patches(repo)["gold1"]
    fenced = f"Here is the fix.\n```diff\n{gold}```\nThat should do it."
    assert extract_patch(fenced, {})[0] == gold
    assert extract_patch("Fix:\n" + gold + "\n", {})[0] == gold
    ops = (repo / "calc" / "ops.py").read_text()
    edit = ("calc/ops.py\n<<<<<<< SEARCH\n    total = 0\n    for _ in range(b):\n        total += a\n"
            "    return total\n=======\n    return a * b\n>>>>>>> REPLACE\n")
    patch, how = extract_patch("I will edit it:\n```python\n" + edit + "```\n", {"calc/ops.py": ops})
    assert how == "edits"
    assert _applies(repo, patch) == FIX["calc/ops.py"]
    assert _applies(repo, gold) == FIX["calc/ops.py"]
    # no patch, a search text that is not in the file, an unknown file: no usable patch
    assert extract_patch("I think mul should multiply.", {"calc/ops.py": ops})[0] is None
    assert extract_patch(edit.replace("total = 0", "total = 7"), {"calc/ops.py": ops}) == (
        None, "edit of calc/ops.py: the search text is not in the file")
    assert extract_patch(edit, {})[0] is None
    assert extract_patch("", {})[0] is None


def test_unsafe_patches_are_named(tmp_path):
    repo, _ = make_repo(tmp_path / "r")
    p = patches(repo)
    assert "outside the repository" in patch_problem(p["outside"], 500_000)
    assert "binary" in patch_problem(p["binary"], 500_000)
    assert "over verify.repository.max_patch_bytes" in patch_problem(p["huge"], 500_000)
    assert "changes how tests report" in patch_problem(p["conftest"], 500_000)
    git_dir = "--- a/.git/config\n+++ b/.git/config\n@@ -1 +1 @@\n-a\n+b\n"
    assert "git directory" in patch_problem(git_dir, 500_000)
    for name in ("gold1", "wrong1", "edit_tests", "delete_tests", "hang", "poison", "saboteur"):
        assert patch_problem(p[name], 500_000) is None, name


def test_text_variant_files_are_recovered():
    text = ("<issue>x</issue>\n<code>\n[start of calc/ops.py]\n1 def add(a, b):\n2     return a + b\n"
            "[end of calc/ops.py]\n[start of README]\n1 hello\n2 \n[end of README]\n</code>")
    assert text_files(text) == {"calc/ops.py": "def add(a, b):\n    return a + b\n", "README": "hello\n\n"}


# ---- loader ----

def test_loader_reads_jsonl_with_oracle_files_from_a_mirror(toy):
    spec = {"loader": "swebench", "args": {"path": str(toy["path"]), "repos": str(toy["folder"] / "mirrors")}}
    table = build_problems("lite", spec).to_pylist()
    assert [r["problem_id"] for r in table] == ["ttscale__calc-1", "ttscale__calc-2"]
    first = table[0]
    assert first["task"] == "repo" and first["test_style"] == "swebench"
    assert "mul() is wrong" in first["question"] and "[start of calc/ops.py]" in first["question"]
    meta = json.loads(first["metadata"])["swebench"]
    assert meta["files"] == {"calc/ops.py": (toy["repo"] / "calc" / "ops.py").read_text()}
    assert meta["FAIL_TO_PASS"] == ["tests/test_ops.py::test_mul_negative", "tests/test_ops.py::test_mul_float"]
    assert first["solution"] == toy["instances"][0]["patch"]


def test_loader_names_an_instance_without_grading_fields(tmp_path):
    repo, base = make_repo(tmp_path / "r")
    inst = make_instances(repo, base, "some-image")[1]
    del inst["eval_script"]
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(inst) + "\n")
    with pytest.raises(DataError, match=r"ttscale__calc-2: missing \['eval_script'\]"):
        build_problems("lite", {"loader": "swebench", "args": {"path": str(path)}})


# ---- the verifier in containers ----

ORDER = ["wrong1", "hang", "gold1", "saboteur", "gold1b", "poison", "wrong1b", "edit_tests", "delete_tests",
         "fix_and_delete_tests", "breaks_p2p", "not_applying", "outside", "binary", "huge", "conftest"]
EXPECTED = {"wrong1": "failed", "hang": "timeout", "gold1": "passed", "saboteur": "failed", "gold1b": "passed",
            "poison": "failed", "wrong1b": "failed", "edit_tests": "failed", "delete_tests": "failed",
            "fix_and_delete_tests": "failed", "breaks_p2p": "failed", "not_applying": "patch_failed",
            "outside": "patch_rejected", "binary": "patch_rejected", "huge": "patch_rejected",
            "conftest": "patch_rejected"}


def _items(toy, rows):
    spec = {"loader": "swebench", "args": {"path": str(toy["path"]), "repos": str(toy["folder"] / "mirrors")}}
    problems = {r["problem_id"]: r for r in build_problems("lite", spec).to_pylist()}
    return [{**problems[pid], "problem_id": pid, "sample_index": i, "text": text} for i, (pid, text) in enumerate(rows)]


@pytest.fixture(scope="module")
def verdicts(toy):
    p = toy["patches"]
    rows = [("ttscale__calc-1", f"```diff\n{p[name]}```") for name in ORDER]
    rows += [("ttscale__calc-1", f"Fixed:\n```diff\n{p['gold1']}```")]  # the same patch again: run once
    rows += [("ttscale__calc-2", f"```diff\n{p['gold2']}```"), ("ttscale__calc-2", "No idea."),
             ("ttscale__calc-2", f"```diff\n{p['wrong2']}```"), ("ttscale__calc-2", "```diff\n```")]
    logs = toy["folder"] / "logs"
    # wall_s: generous for a loaded shared machine (8 s timed out ordinary patches there); the hang still ends
    settings = {"backend": "docker", "workers": 1, "repository": {"wall_s": 30, "keep_logs": str(logs)}}
    return _items(toy, rows), verify_items(_items(toy, rows), settings), logs


def test_gold_is_resolved_and_wrong_broken_and_hostile_patches_are_not(verdicts):
    _, out, _ = verdicts
    got = {name: v["status"] for name, v in zip(ORDER, out, strict=False)}
    assert got == EXPECTED
    assert [v["status"] for v in out[len(ORDER):]] == ["passed", "passed", "no_answer", "failed", "no_answer"]
    assert [v["correct"] for v in out] == [s == "passed" for s in [*EXPECTED.values(), "passed", "passed",
                                                                    "no_answer", "failed", "no_answer"]]
    gold = out[ORDER.index("gold1")]
    assert (gold["tests_passed"], gold["tests_total"]) == (7, 7)
    assert out[-5]["answer_key"] == gold["answer_key"]


def test_verdicts_equal_the_swebench_grading_of_the_same_logs(toy, verdicts):
    from swebench.harness.grading import get_eval_report
    from swebench.harness.utils import make_test_spec

    items, out, logs = verdicts
    by_id = {i["instance_id"]: i for i in toy["instances"]}
    graded = 0
    for it, v in zip(items, out, strict=True):
        if v["status"] not in ("passed", "failed"):
            continue
        inst = by_id[it["problem_id"]]
        import hashlib

        sha = hashlib.sha256(v["extracted_answer"].encode()).hexdigest()[:16]
        log = logs / inst["instance_id"] / f"{sha}.log"
        report = get_eval_report(make_test_spec(inst), {"instance_id": inst["instance_id"],
                                                        "model_patch": v["extracted_answer"]}, str(log), True)
        assert report[inst["instance_id"]]["resolved"] == v["correct"], it["text"][:200]
        graded += 1
    assert graded == 13


def test_a_poisoned_container_is_replaced_and_would_have_passed_a_wrong_patch(toy):
    """Control: without the check of changes outside the repository, the plugin the poison patch writes
    into site-packages makes the next wrong patch resolved; with it, the box is replaced."""
    meta = json.loads(_items(toy, [("ttscale__calc-1", "")])[0]["metadata"])["swebench"]
    p = toy["patches"]
    results, counts = run_patches([(meta, p["poison"]), (meta, p["wrong1b"])], {"wall_s": 20})
    assert [r["status"] for r in results] == ["failed", "failed"] and counts["containers"] == 2

    class Blind(InstanceRunner):  # resets the repository (in the patch's exec) but checks nothing else
        def after(self, reset_ok):
            pass

    from ttscale.verify.repo_containers import REPO_BACKENDS
    from ttscale.verify.repository import REPOSITORY

    s = {**REPOSITORY, "wall_s": 20}
    runner = Blind(REPO_BACKENDS.get("docker", "x")(s), meta, s)
    try:
        assert [runner.run(p[n])["status"] for n in ("poison", "wrong1b")] == ["failed", "passed"]
    finally:
        runner.close()


def test_one_container_per_instance_and_per_patch_mode_agree(toy):
    meta = [json.loads(r["metadata"])["swebench"] for r in _items(toy, [("ttscale__calc-1", ""),
                                                                         ("ttscale__calc-2", "")])]
    p = toy["patches"]
    jobs = [(meta[0], p["gold1"]), (meta[0], p["wrong1"]), (meta[1], p["gold2"]), (meta[0], p["breaks_p2p"]),
            (meta[1], p["wrong2"])]
    pooled, c1 = run_patches(jobs, {"wall_s": 20}, workers=2)
    fresh, c2 = run_patches(jobs, {"wall_s": 20, "per_patch": True}, workers=2)
    assert [r["status"] for r in pooled] == [r["status"] for r in fresh] == [
        "passed", "failed", "passed", "failed", "failed"]
    assert c1["containers"] == 2 and c2["containers"] == 5
    assert grade(meta[0], p["gold1"], pooled[0]["log"])["resolved"] is True


def test_podman_command_line_has_no_network_and_the_limits():
    """Podman is not installed on the development machines: its command line only (as for apptainer)."""
    from ttscale.verify.repo_containers import REPO_BACKENDS
    from ttscale.verify.repository import REPOSITORY

    argv = REPO_BACKENDS.get("podman")({**REPOSITORY, "memory_mb": 512}).start_command("docker.io/x/y:1")
    joined = " ".join(argv)
    for part in ("--network none", "--memory 512m", "--pids-limit 1024", "--cap-drop ALL", "--pull never",
                 "no-new-privileges", "docker.io/x/y:1 tail -f /dev/null"):
        assert part in joined, part


@pytest.mark.skipif(shutil.which("podman") is None,
                    reason="podman is not installed (optional backend; `bash bootstrap.sh test` installs it)")
def test_podman_backend_gives_the_docker_verdicts(toy):
    """The same instance image, copied into Podman's store, through verify_items with the podman backend:
    one box per instance, the repository reset between patches, hostile patches refused or failed, as on
    docker (the image is found by the name the instance gives, as on a cluster that pulled it)."""
    meta = json.loads(_items(toy, [("ttscale__calc-1", "")])[0]["metadata"])["swebench"]
    subprocess.run(f"docker save {meta['image']} | podman load -q", shell=True, check=True, capture_output=True)
    p = toy["patches"]
    names = ["wrong1", "gold1", "poison", "wrong1b", "fix_and_delete_tests", "outside", "gold1b"]
    rows = [("ttscale__calc-1", f"```diff\n{p[n]}```") for n in names]
    out = verify_items(_items(toy, rows), {"backend": "podman", "workers": 1, "repository": {"wall_s": 30}})
    assert [v["status"] for v in out] == [EXPECTED[n] for n in names]
    assert [v["correct"] for v in out] == [EXPECTED[n] == "passed" for n in names]
    assert not subprocess.run(["podman", "ps", "-q", "--filter", f"ancestor={meta['image']}"],
                              capture_output=True, text=True, check=True).stdout.strip()
