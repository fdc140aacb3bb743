"""A small real repository with real bugs as SWE-bench-format instances, built offline.

`calc` is a pure-Python package (ops, text) with a pytest suite, committed into a git repository.
Two instances each have a bug at the base commit, the gold patch that fixes it, a test patch that
adds the tests which fail before the fix, FAIL_TO_PASS and PASS_TO_PASS lists, and an eval script
in the layout of the swebench package's (test files checked out, test patch applied, markers around
`pytest -rA`). The instance image is the offline base image (containers/build_swebench.sh) with the
repository at /testbed. Used by tests/test_repository.py and benchmarks/repository.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

BASE_IMAGE = "ttscale-swebench-base:latest"
REPO_NAME = "ttscale/calc"
ROOT = Path(__file__).resolve().parents[1]

FILES = {
    "calc/__init__.py": '"""A tiny calculator package."""\n',
    "calc/ops.py": (
        "def add(a, b):\n    return a + b\n\n\n"
        "def sub(a, b):\n    return a - b\n\n\n"
        "def mul(a, b):\n    total = 0\n    for _ in range(b):\n        total += a\n    return total\n"
    ),
    "calc/text.py": (
        "def slug(title):\n    return '-'.join(title.split())\n\n\n"
        "def shout(word):\n    return word.upper() + '!'\n"
    ),
    "tests/__init__.py": "",
    "tests/test_ops.py": (
        "from calc.ops import add, mul, sub\n\n\n"
        "def test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_sub():\n    assert sub(2, 3) == -1\n\n\n"
        "def test_mul():\n    assert mul(4, 3) == 12\n"
    ),
    "tests/test_text.py": (
        "from calc.text import shout, slug\n\n\n"
        "def test_slug():\n    assert slug('a b') == 'a-b'\n\n\n"
        "def test_shout():\n    assert shout('hi') == 'HI!'\n"
    ),
    ".gitignore": "__pycache__/\n.pytest_cache/\n*.egg-info/\nbuild/\n",
}
# instance -> (file edits of the fix, file edits of the tests, FAIL_TO_PASS, PASS_TO_PASS, issue)
FIX = {
    "calc/ops.py": FILES["calc/ops.py"].replace(
        "    total = 0\n    for _ in range(b):\n        total += a\n    return total\n", "    return a * b\n"),
}
FIX_TESTS = {
    "tests/test_ops.py": FILES["tests/test_ops.py"]
    + "\n\ndef test_mul_negative():\n    assert mul(4, -3) == -12\n"
    + "\n\ndef test_mul_float():\n    assert mul(2, 1.5) == 3.0\n",
}
SLUG = {"calc/text.py": FILES["calc/text.py"].replace("'-'.join(title.split())", "'-'.join(title.lower().split())")}
SLUG_TESTS = {
    "tests/test_text.py": FILES["tests/test_text.py"]
    + "\n\ndef test_slug_lower():\n    assert slug('Hello World') == 'hello-world'\n",
}
ISSUES = {
    "ttscale__calc-1": ("mul() is wrong for negative and fractional factors: mul(4, -3) returns 0 and "
                        "mul(2, 1.5) raises TypeError.", FIX, FIX_TESTS,
                        ["tests/test_ops.py::test_mul_negative", "tests/test_ops.py::test_mul_float"],
                        ["tests/test_ops.py::test_add", "tests/test_ops.py::test_sub", "tests/test_ops.py::test_mul",
                         "tests/test_text.py::test_slug", "tests/test_text.py::test_shout"]),
    "ttscale__calc-2": ("slug() keeps upper case: slug('Hello World') should be 'hello-world'.", SLUG, SLUG_TESTS,
                        ["tests/test_text.py::test_slug_lower"],
                        ["tests/test_text.py::test_slug", "tests/test_text.py::test_shout",
                         "tests/test_ops.py::test_add", "tests/test_ops.py::test_mul"]),
}


# fixed identity and dates: the base commit (and so the cached image) is the same in every build
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
           "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=GIT_ENV).stdout


def _diff(repo: Path, edits: dict[str, str]) -> str:
    for path, text in edits.items():
        (repo / path).write_text(text)
    out = git(repo, "diff")
    git(repo, "checkout", "--", ".")
    return out


def make_repo(path: Path) -> tuple[Path, str]:
    """The git repository at its base commit; (path, base commit)."""
    path.mkdir(parents=True, exist_ok=True)
    for rel, text in FILES.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "calc with bugs")
    return path, git(path, "rev-parse", "HEAD").strip()


def eval_script(base: str, test_patch: str) -> str:
    """An eval script laid out as the swebench package writes them for pytest repositories."""
    test_files = sorted({line[6:] for line in test_patch.splitlines() if line.startswith("+++ b/")})
    files = " ".join(test_files)
    return "\n".join([
        "#!/bin/bash", "set -uxo pipefail", "cd /testbed", "git config --global --add safe.directory /testbed",
        "git status", "git -c core.fileMode=false diff " + base, f"git checkout {base} {files}",
        "git apply -v - <<'EOF_114329324912'", test_patch.rstrip("\n"), "EOF_114329324912",
        ": '>>>>> Start Test Output'", "python3 -m pytest -rA -p no:cacheprovider tests/test_ops.py tests/test_text.py",
        ": '>>>>> End Test Output'", f"git checkout {base} {files}", "",
    ])


def make_instances(repo: Path, base: str, image: str) -> list[dict]:
    out = []
    for iid, (issue, fix, tests, f2p, p2p) in ISSUES.items():
        patch, test_patch = _diff(repo, fix), _diff(repo, tests)
        out.append({
            "instance_id": iid, "repo": REPO_NAME, "base_commit": base, "problem_statement": issue,
            "patch": patch, "test_patch": test_patch, "FAIL_TO_PASS": json.dumps(f2p),
            "PASS_TO_PASS": json.dumps(p2p), "version": "0.1", "environment_setup_commit": base,
            "image": image, "eval_script": eval_script(base, test_patch), "log_parser": "parse_log_pytest",
            "eval_type": "pass_and_fail", "hints_text": "", "created_at": "2024-01-01",
        })
    return out


def build_image(repo: Path) -> str:
    """The instance image: the offline base image with the repository at /testbed (docker commit)."""
    import docker

    client = docker.from_env()
    base = git(repo, "rev-parse", "HEAD").strip()
    digest = hashlib.sha256((base + (ROOT / "containers" / "build_swebench.sh").read_text()).encode()).hexdigest()[:12]
    tag = f"ttscale-swebench-calc:{digest}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    subprocess.run(["bash", str(ROOT / "containers" / "build_swebench.sh")], check=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(repo), arcname=".")
    box = client.containers.create(BASE_IMAGE, ["true"], network_disabled=True, network_mode="none")
    try:
        box.put_archive("/testbed", buf.getvalue())
        box.commit(repository="ttscale-swebench-calc", tag=digest,
                   changes=["WORKDIR /testbed", 'CMD ["bash"]'])
    finally:
        box.remove(force=True)
    return tag


def build_all(folder: Path) -> tuple[Path, list[dict], Path]:
    """(repository, instances, instances.jsonl) under `folder`, with the instance image built."""
    repo, base = make_repo(folder / "mirrors" / REPO_NAME.replace("/", "__"))
    image = build_image(repo)
    instances = make_instances(repo, base, image)
    path = folder / "instances.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in instances))
    return repo, instances, path


OPS = FILES["calc/ops.py"]
SLOW_MUL = "    total = 0\n    for _ in range(b):\n        total += a\n    return total\n"
POISON = '''
import os as _os, site as _site
for _d in _site.getsitepackages():
    if _os.path.isdir(_d):
        open(_os.path.join(_d, "poison_plugin.py"), "w").write(
            "import pytest\\n@pytest.hookimpl(hookwrapper=True)\\ndef pytest_runtest_makereport(item, call):\\n"
            "    outcome = yield\\n    outcome.get_result().outcome = 'passed'\\n")
        _info = _os.path.join(_d, "poison-1.0.dist-info")
        _os.makedirs(_info, exist_ok=True)
        open(_os.path.join(_info, "METADATA"), "w").write("Name: poison\\nVersion: 1.0\\n")
        open(_os.path.join(_info, "entry_points.txt"), "w").write("[pytest11]\\npoison = poison_plugin\\n")
        break
'''
SABOTEUR = '''
import os as _os, time as _time
if _os.fork() == 0:
    _os.setsid()
    if _os.fork() == 0:
        for _ in range(1200):
            _time.sleep(0.05)
            with open("/testbed/calc/ops.py", "w") as _f:
                _f.write("def add(a, b): return 0\\ndef sub(a, b): return 0\\ndef mul(a, b): return 0\\n")
    _os._exit(0)
'''


def patches(repo: Path) -> dict[str, str]:
    """Named patches against the base commit: right, wrong, broken and hostile ones."""
    fixed = OPS.replace(SLOW_MUL, "    return a * b\n")
    out = {
        "gold1": _diff(repo, FIX),
        "gold1b": _diff(repo, {"calc/ops.py": OPS.replace(SLOW_MUL, "    return b * a\n")}),
        "gold2": _diff(repo, SLUG),
        "wrong1": _diff(repo, {"calc/ops.py": OPS.replace(SLOW_MUL, "    return a * b if b > 0 else 0\n")}),
        "wrong1b": _diff(repo, {"calc/ops.py": OPS.replace(SLOW_MUL, "    return abs(a * b)\n")}),
        "wrong2": _diff(repo, {"calc/text.py": FILES["calc/text.py"].replace("title.split()",
                                                                             "title.upper().split()")}),
        # fixes mul but breaks add: FAIL_TO_PASS pass, PASS_TO_PASS do not
        "breaks_p2p": _diff(repo, {"calc/ops.py": fixed.replace("return a + b", "return a - b")}),
        # the tests the fix is judged by, rewritten to pass: the eval script checks them out again
        "edit_tests": _diff(repo, {"tests/test_ops.py": FILES["tests/test_ops.py"].replace("== 12", "== mul(4, 3)")
                                   + "\n\ndef test_mul_negative():\n    pass\n\n\ndef test_mul_float():\n    pass\n"}),
        "hang": _diff(repo, {"calc/ops.py": OPS.replace(SLOW_MUL, "    while True:\n        pass\n")}),
        "poison": _diff(repo, {"calc/ops.py": OPS.replace(SLOW_MUL, "    return a * b if b > 0 else 0\n") + POISON}),
        "saboteur": _diff(repo, {"calc/ops.py": OPS + SABOTEUR}),
        "not_applying": _diff(repo, FIX).replace("total = 0", "total = 1"),
    }
    (repo / "tests" / "test_text.py").unlink()
    (repo / "calc" / "ops.py").write_text(fixed)
    out["fix_and_delete_tests"] = git(repo, "diff")  # fixes mul, deletes tests PASS_TO_PASS names
    git(repo, "checkout", "--", ".")
    (repo / "tests" / "test_ops.py").unlink()
    out["delete_tests"] = git(repo, "diff")
    git(repo, "checkout", "--", ".")
    out["outside"] = ("diff --git a/../outside.py b/../outside.py\n--- a/../outside.py\n+++ b/../outside.py\n"
                      "@@ -0,0 +1 @@\n+x = 1\n")
    out["binary"] = ("diff --git a/calc/blob.bin b/calc/blob.bin\nnew file mode 100644\nindex 0000000..1111111\n"
                     "GIT binary patch\nliteral 3\nKcmZ>9&;S4c0RR91\n\nliteral 0\nHcmV?d00001\n")
    big = "".join(f"+x{i} = {i}\n" for i in range(60_000))
    out["huge"] = f"--- /dev/null\n+++ b/calc/big.py\n@@ -0,0 +1,60000 @@\n{big}"
    out["conftest"] = ("--- /dev/null\n+++ b/tests/conftest.py\n@@ -0,0 +1,5 @@\n+import pytest\n"
                       "+@pytest.hookimpl(hookwrapper=True)\n+def pytest_runtest_makereport(item, call):\n"
                       "+    outcome = yield\n+    outcome.get_result().outcome = 'passed'\n")
    return out
