"""Agreement on stdin/stdout programs: constructed CodeContests-style problems, with programs as models write
them, judged by our verifier (in Docker) and by a straightforward runner (`python3 prog.py` per input, exit
status 0, output compared token by token); every verdict must be the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ttscale.verify.pool import run_tasks
from ttscale.verify.sandbox import LIMITS

pytestmark = pytest.mark.docker
TIMEOUT = 3.0


# CodeContests-style problems (stdin -> stdout) with programs as models write them: correct, wrong,
# crashing, looping, reading input in different ways; ours must agree with running `python3 prog.py`
# on each input and comparing the output token by token.
STDIO = [
    ("sum", [("1 2\n", "3"), ("10 -4\n", "6"), ("0 0\n", "0")], [
        "a, b = map(int, input().split())\nprint(a + b)\n",
        "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n",
        "a, b = map(int, input().split())\nprint(a - b)\n",
        "print(int(input()) + 1)\n",  # ValueError on '1 2'
        "import sys\nx = sys.stdin.buffer.read().split()\nsys.stdout.write(str(int(x[0]) + int(x[1])) + '\\n')\n",
        "while True:\n    pass\n",
        "def main():\n    a, b = map(int, input().split())\n    print(a + b)\nif __name__ == '__main__':\n    main()\n",
        "import sys\nsys.setrecursionlimit(10000)\na, b = map(int, input().split())\nprint(a + b)\nsys.exit(0)\n",
        "a, b = map(int, input().split())\nprint(a + b)\nsys.exit(1)\n",  # NameError after the right output
    ]),
    ("lines", [("3\nab\ncd\nef\n", "ba\ndc\nfe"), ("1\nxyz\n", "zyx")], [
        "n = int(input())\nfor _ in range(n):\n    print(input()[::-1])\n",
        "import sys\nlines = sys.stdin.read().split()\nprint('\\n'.join(s[::-1] for s in lines[1:]))\n",
        "n = int(input())\nfor _ in range(n):\n    print(input())\n",
        "n = int(input())\nfor _ in range(n + 1):\n    print(input()[::-1])\n",  # EOFError
        "from __future__ import annotations\ndef f(s: str) -> Undefined:\n    return s[::-1]\n"
        "n = int(input())\nprint('\\n'.join(f(input()) for _ in range(n)))\n",
        "def f(s: str) -> Undefined:\n    return s[::-1]\nn = int(input())\nprint(f(input()))\n",  # NameError
    ]),
    ("float", [("2\n", "1.41421356"), ("9\n", "3.0")], [
        "import math\nprint(math.sqrt(int(input())))\n",
        "print('%.8f' % (int(input()) ** 0.5))\n",
        "print(round(int(input()) ** 0.5, 2))\n",
    ]),
]


def _plain_run(program: str, cases: list[tuple[str, str]], tmp: Path) -> bool:
    """The straightforward runner: python3 prog.py per input, exit status 0, tokens equal (floats to 1e-6)."""
    from ttscale.verify.runner import _tokens_equal

    prog = tmp / "prog.py"
    prog.write_text(program)
    for stdin, want in cases:
        try:
            done = subprocess.run([sys.executable, str(prog)], input=stdin, capture_output=True, text=True,
                                  timeout=TIMEOUT, cwd=tmp)
        except subprocess.TimeoutExpired:
            return False
        if done.returncode != 0 or not _tokens_equal(done.stdout, want):
            return False
    return True


def test_stdio_programs_get_a_plain_runners_verdicts(tmp_path):
    tasks, expect = [], []
    for _, cases, programs in STDIO:
        tests = json.dumps([{"input": i, "output": o} for i, o in cases])
        for prog in programs:
            tasks.append({"id": len(tasks), "kind": "stdio", "code": prog, "tests": tests})
            expect.append(_plain_run(prog, cases, tmp_path))
    results = run_tasks(tasks, "docker", {**LIMITS, "wall_s": TIMEOUT, "cpu_s": 3}, 2)
    ours = [results[t["id"]]["status"] == "passed" for t in tasks]
    assert ours == expect, [(t["code"][:60], o, e) for t, o, e in zip(tasks, ours, expect, strict=True) if o != e]
    assert 0 < sum(expect) < len(expect)
