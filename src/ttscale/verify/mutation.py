"""Type-aware mutation of test inputs: seeds parsed from a problem's own tests, new inputs derived from them.

EvalPlus (Liu et al. 2023) showed that base tests of HumanEval/MBPP let wrong programs pass; new inputs
made by mutating the existing ones, with expected outputs from the reference solution, catch many of them.
This module only makes candidate inputs (deterministically from a seed); ttscale.verify.extended runs the
reference on them in the sandbox and keeps those it answers deterministically and without error.

Mutation keeps each argument's type and, where the seeds agree, its domain: an argument whose seed values
are all non-negative stays non-negative, a string keeps the alphabet its seeds use, a list keeps its
element type. Inputs outside a problem's contract can still arise (the reference then defines the answer);
docs/verification.md says what that means for the false-positive rates.
"""

from __future__ import annotations

import ast
import random
from typing import Any

# bounds that keep mutated inputs cheap for the reference and the samples alike
MAX_LEN = 24  # elements of a list/tuple/dict, characters added to a string beyond its seeds' length
MAX_STR = 80
MAX_INT = 10**6
MAX_REPR = 2000  # characters of an input's repr


def seed_inputs(tests: str, entry_point: str | None) -> list[tuple]:
    """The argument tuples of every call of the function under test whose arguments are all literals.

    HumanEval's tests call `candidate(...)` inside `check`; MBPP-style tests call the entry point by name.
    Order of first appearance, duplicates removed.
    """
    try:
        tree = ast.parse(tests)
    except SyntaxError:
        return []
    names = {"candidate"} | ({entry_point} if entry_point else set())
    seen: dict[str, tuple] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names):
            continue
        if node.keywords:
            continue
        try:
            args = tuple(ast.literal_eval(a) for a in node.args)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        key = repr(args)
        if key not in seen and round_trips(args):
            seen[key] = args
    return list(seen.values())


def round_trips(value: Any) -> bool:
    """Whether repr(value) reads back as an equal literal (what the sandbox's runner receives)."""
    try:
        text = repr(value)
        return len(text) <= MAX_REPR and ast.literal_eval(text) == value
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


class _Domain:
    """What the seeds say about one argument position: the values seen, their sign, their alphabet."""

    def __init__(self, values: list[Any]) -> None:
        self.values = values
        flat = list(_leaves(values))
        nums = [v for v in flat if isinstance(v, (int, float)) and not isinstance(v, bool)]
        self.non_negative = bool(nums) and all(v >= 0 for v in nums)
        chars = "".join(v for v in flat if isinstance(v, str))
        self.alphabet = sorted(set(chars)) or list("abc")
        self.strings = [v for v in flat if isinstance(v, str)]
        self.ints = [v for v in nums if isinstance(v, int)] or [0, 1, 2]
        self.floats = [float(v) for v in nums] or [0.0, 1.0]


def _leaves(values: Any):
    for v in values:
        if isinstance(v, (list, tuple, set, frozenset)):
            yield from _leaves(list(v))
        elif isinstance(v, dict):
            yield from _leaves(list(v.keys()))
            yield from _leaves(list(v.values()))
        else:
            yield v


def _int(rng: random.Random, v: int, dom: _Domain) -> int:
    choice = rng.randrange(6)
    if choice == 0:
        out = v + rng.choice((-1, 1))
    elif choice == 1:
        out = rng.choice(dom.ints) + rng.randint(-3, 3)
    elif choice == 2:
        out = v * rng.choice((2, 3, -1))
    elif choice == 3:
        lo, hi = min(dom.ints), max(dom.ints)
        out = rng.randint(min(lo, 0), max(hi, 10))
    elif choice == 4:
        out = rng.choice((0, 1, 2))
    else:
        out = rng.randint(-100, 100)
    if dom.non_negative:
        out = abs(out)
    return max(-MAX_INT, min(MAX_INT, out))


def _float(rng: random.Random, v: float, dom: _Domain) -> float:
    choice = rng.randrange(4)
    if choice == 0:
        out = v + rng.uniform(-1, 1)
    elif choice == 1:
        out = v * rng.uniform(0.5, 2)
    elif choice == 2:
        out = rng.choice(dom.floats) + rng.uniform(-5, 5)
    else:
        out = round(rng.uniform(min([*dom.floats, 0.0]), max([*dom.floats, 10.0])), rng.choice((0, 1, 2, 3)))
    if dom.non_negative:
        out = abs(out)
    return float(round(out, 6))


def _str(rng: random.Random, v: str, dom: _Domain) -> str:
    s = list(v)
    choice = rng.randrange(6)
    if choice == 0 and s:
        del s[rng.randrange(len(s))]
    elif choice == 1:
        s.insert(rng.randrange(len(s) + 1), rng.choice(dom.alphabet))
    elif choice == 2 and s:
        s[rng.randrange(len(s))] = rng.choice(dom.alphabet)
    elif choice == 3 and len(s) > 1:
        i, j = sorted(rng.sample(range(len(s) + 1), 2))
        s = s[i:j]
    elif choice == 4 and dom.strings:
        s = list(v + rng.choice(dom.strings))
    else:
        s = [rng.choice(dom.alphabet) for _ in range(rng.randint(0, max(len(v), 4)))]
    return "".join(s)[:MAX_STR]


def mutate(value: Any, rng: random.Random, dom: _Domain, depth: int = 0) -> Any:
    """A value of the same type, changed a little (containers: one element changed, added, removed,
    duplicated or swapped; nested containers recurse)."""
    if isinstance(value, bool):
        return not value if rng.random() < 0.5 else value
    if isinstance(value, int):
        return _int(rng, value, dom)
    if isinstance(value, float):
        return _float(rng, value, dom)
    if isinstance(value, str):
        return _str(rng, value, dom)
    if isinstance(value, (list, tuple)):
        items = list(value)
        choice = rng.randrange(6)
        if choice == 0 and items and depth < 4:
            i = rng.randrange(len(items))
            items[i] = mutate(items[i], rng, dom, depth + 1)
        elif choice == 1 and items and len(items) < MAX_LEN:
            items.insert(rng.randrange(len(items) + 1), mutate(rng.choice(items), rng, dom, depth + 1))
        elif choice == 2 and items:
            del items[rng.randrange(len(items))]
        elif choice == 3 and items and len(items) < MAX_LEN:
            items.append(rng.choice(items))
        elif choice == 4 and len(items) > 1:
            i, j = rng.sample(range(len(items)), 2)
            items[i], items[j] = items[j], items[i]
        elif items and depth < 4:
            items = [mutate(x, rng, dom, depth + 1) if rng.random() < 0.5 else x for x in items]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict):
        d = dict(value)
        keys = list(d)
        choice = rng.randrange(3)
        if choice == 0 and keys and depth < 4:
            k = rng.choice(keys)
            d[k] = mutate(d[k], rng, dom, depth + 1)
        elif choice == 1 and keys and len(d) < MAX_LEN:
            k = mutate(rng.choice(keys), rng, dom, depth + 1)
            d[k] = mutate(d[rng.choice(keys)], rng, dom, depth + 1)
        elif keys:
            del d[rng.choice(keys)]
        return d
    return value  # None and other literals stay as they are


def mutated_inputs(seeds: list[tuple], count: int, rng: random.Random, tries_per_input: int = 20) -> list[tuple]:
    """Up to `count` new distinct argument tuples (none equal to a seed), each derived from a seed or from
    an earlier mutant by mutating one or more of its arguments."""
    if not seeds or count <= 0:
        return []
    arity = {len(s) for s in seeds}
    domains = {n: [_Domain([s[i] for s in seeds if len(s) == n]) for i in range(n)] for n in arity}
    pool = list(seeds)
    seen = {repr(s) for s in seeds}
    out: list[tuple] = []
    for _ in range(count * tries_per_input):
        if len(out) >= count:
            break
        base = rng.choice(pool)
        if not base:
            break  # a function without arguments has nothing to mutate
        args = list(base)
        positions = [rng.randrange(len(args))] if rng.random() < 0.7 else range(len(args))
        for i in positions:
            args[i] = mutate(args[i], rng, domains[len(args)][i])
        new = tuple(args)
        key = repr(new)
        if key in seen or not round_trips(new):
            continue
        seen.add(key)
        out.append(new)
        pool.append(new)
    return out


def stdin_mutants(seeds: list[str], count: int, rng: random.Random, tries_per_input: int = 20) -> list[str]:
    """New stdin texts for stdin/stdout problems: integer tokens of a seed input changed, the layout kept
    (so the line and token counts that the program reads stay valid)."""
    if not seeds or count <= 0:
        return []
    seen = set(seeds)
    out: list[str] = []
    dom = _Domain([int(t) for s in seeds for t in s.split() if _is_int(t)])
    for _ in range(count * tries_per_input):
        if len(out) >= count:
            break
        base = rng.choice(seeds)
        lines = [line.split(" ") for line in base.split("\n")]
        spots = [(i, j) for i, line in enumerate(lines) for j, t in enumerate(line) if _is_int(t)]
        if not spots:
            break
        for i, j in rng.sample(spots, rng.randint(1, len(spots))):
            lines[i][j] = str(_int(rng, int(lines[i][j]), dom))
        new = "\n".join(" ".join(line) for line in lines)
        if new in seen:
            continue
        seen.add(new)
        out.append(new)
    return out


def _is_int(token: str) -> bool:
    t = token.strip()
    return bool(t) and (t.isdigit() or (t[0] == "-" and t[1:].isdigit()))
