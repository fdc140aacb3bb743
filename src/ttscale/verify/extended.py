"""Extended tests: more inputs per problem, with expected outputs computed by the reference solution.

Base tests let wrong programs pass (EvalPlus, Liu et al. 2023); with such a verifier, resampling converges
to a ceiling set by the false-positive rate (Stroebl et al. 2024). The extended-tests table (one row per
problem, schema EXTENDED) holds new inputs for asserts-style problems (argument tuples of the function under
test, as Python literals) and stdin/stdout problems (stdin texts). They come from type-aware mutation of the
problem's own test inputs (ttscale.verify.mutation), seeded per problem from the experiment seed, or from a
user's HumanEval+/MBPP+ file in EvalPlus's format (`plus_input`). Either way, the expected output of each
input is what the reference solution returns on it in the sandbox, and an input is kept only if the
reference runs on it without error, within `input_s`, and gives the same output twice. A problem that got
no input says why (`note`): reported, not hidden.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import random
from pathlib import Path
from typing import Any

import pyarrow as pa

from ttscale.errors import ConfigError, DataError
from ttscale.io import read_table, write_table

# what decides a dataset's extended tests is part of its verify identity, so it lives in ttscale.keys
from ttscale.keys import EXTENDED_DEFAULTS as DEFAULTS
from ttscale.keys import extended_enabled as enabled  # noqa: F401
from ttscale.keys import extended_identity as identity  # noqa: F401
from ttscale.keys import extended_settings as settings_of
from ttscale.schemas import EXTENDED, PROBLEMS
from ttscale.verify.mutation import mutated_inputs, round_trips, seed_inputs, stdin_mutants
from ttscale.verify.pool import run_tasks

log = logging.getLogger(__name__)

# verify.extended defaults (workflow/schemas/config.schema.yaml documents them)

MARK = "@@ttscale-ref@@"

# Runs the (trusted) reference on every candidate input and prints one line per input: whether it ran,
# its output's repr and its time. Each call runs under a timer (input_s); arguments are copied, so a
# reference that changes its argument in place is judged on the input as written.
_HARNESS = '''
import ast as __a, copy as __c, json as __j, signal as __s, time as __t
class __Late(BaseException):
    pass
def __late(*_):
    raise __Late()
__s.signal(__s.SIGPROF, __late)
__f = globals()[{entry!r}]
for __i, __x in enumerate({inputs!r}):
    __ok, __out, __dt = False, "", 0.0
    try:
        __args = __a.literal_eval(__x)
        __t0 = __t.perf_counter()
        __s.setitimer(__s.ITIMER_PROF, {input_s!r})
        try:
            __r = __f(*__c.deepcopy(__args))
        finally:
            __s.setitimer(__s.ITIMER_PROF, 0)
        __dt = __t.perf_counter() - __t0
        __out = repr(__r)
        __ok = len(__out) <= 20000 and __a.literal_eval(__out) == __r
    except BaseException as __e:
        __out = type(__e).__name__
    print({mark!r} + __j.dumps([__i, __ok, __out, __dt]), flush=True)
'''


def problem_seed(experiment_seed: int, dataset: str, problem_id: str) -> int:
    """The mutation seed of one problem: its inputs do not depend on which other problems are selected."""
    key = "\x1f".join(["extended", str(experiment_seed), dataset, problem_id])
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def read_evalplus(path: str | Path) -> dict[str, dict[str, Any]]:
    """task_id -> {inputs (repr of argument tuples), atol, solution} from an EvalPlus JSONL (HumanEval+,
    MBPP+: `plus_input` lists of argument lists, `atol`, `canonical_solution`), gzipped or not."""
    import gzip

    p = Path(path)
    if not p.exists():
        raise ConfigError(f"verify.extended.file: {p} does not exist")
    opener = gzip.open if p.suffix == ".gz" else open
    out: dict[str, dict[str, Any]] = {}
    with opener(p, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                task_id, plus = rec["task_id"], rec["plus_input"]
            except (ValueError, KeyError, TypeError) as exc:
                raise DataError(f"{p}:{n}: not an EvalPlus record with task_id and plus_input ({exc})") from exc
            if not isinstance(plus, list) or not all(isinstance(x, list) for x in plus):
                raise DataError(f"{p}:{n}: plus_input of {task_id} must be a list of argument lists")
            inputs = [repr(tuple(x)) for x in plus if round_trips(tuple(x))]
            solution = None
            if rec.get("canonical_solution") and rec.get("prompt"):
                solution = rec["prompt"] + rec["canonical_solution"]
            out[task_id] = {"inputs": inputs, "dropped": len(plus) - len(inputs), "atol": float(rec.get("atol") or 0),
                            "solution": solution}
    return out


def _candidates(problem: dict[str, Any], count: int, rng: random.Random) -> tuple[str, list[str], int, str]:
    """(kind, candidate inputs, number of seeds, note) of one problem, by mutation."""
    style = problem.get("test_style") or "asserts"
    tests = problem.get("tests") or ""
    if style == "stdio":
        try:
            seeds = [c["input"] for c in json.loads(tests)]
        except (ValueError, TypeError, KeyError):
            return "stdio", [], 0, "stdin/stdout tests are not a JSON list of {input, output}"
        cands = stdin_mutants(seeds, count, rng)
        return "stdio", cands, len(seeds), "" if cands else "no integer in the seed inputs to mutate"
    seeds = seed_inputs(tests, problem.get("entry_point"))
    if not seeds:
        return "call", [], 0, "no call with literal arguments in the tests"
    cands = [repr(x) for x in mutated_inputs(seeds, count, rng)]
    return "call", cands, len(seeds), "" if cands else "mutation produced no new input"


def _reference_runs(jobs: list[dict[str, Any]], settings: dict[str, Any], ext: dict[str, Any]) -> list[dict]:
    """Run each job's reference on its candidates twice; per job, the list of (ok, output) pairs per run."""
    tasks: list[dict[str, Any]] = []
    input_s = float(ext["input_s"])
    for j in jobs:
        for _ in range(2):
            if j["kind"] == "call":
                # the harness runs in the program's own process (the reference is trusted), after it
                harness = _HARNESS.format(entry=j["entry_point"], inputs=j["candidates"], input_s=input_s, mark=MARK)
                tasks.append({"id": len(tasks), "kind": "asserts", "code": j["solution"] + "\n" + harness,
                              "tests": "", "entry_point": None})
            else:
                first = len(tasks)
                tasks.extend([{"id": first + i, "kind": "stdio", "code": j["solution"], "tests": "[]", "stdin": c}
                              for i, c in enumerate(j["candidates"])])
    if not tasks:
        return []
    n = max((len(j["candidates"]) for j in jobs), default=1)
    limits = {**(settings.get("limits") or {}), "tail_bytes": 64 << 20, "output_mb": 64,
              "wall_s": n * input_s + 10, "cpu_s": int(n * input_s + 10), "task_wall_s": n * input_s + 10}
    box = {**(settings.get("container") or {}), "image": settings.get("image", "ttscale-verifier:latest")}
    if settings.get("sif"):
        box["sif"] = settings["sif"]
    results = run_tasks([t for t in tasks if t["kind"] == "asserts"], settings.get("backend", "docker"), limits,
                        int(settings.get("workers") or 1), box) if any(t["kind"] == "asserts" for t in tasks) else {}
    stdio = [t for t in tasks if t["kind"] == "stdio"]
    if stdio:
        results.update(_stdio_outputs(stdio, settings, limits, box, input_s))
    out, k = [], 0
    for j in jobs:
        runs = []
        for _ in range(2):
            if j["kind"] == "call":
                runs.append(_parse(results[k], len(j["candidates"])))
                k += 1
            else:
                runs.append([results[k + i] for i in range(len(j["candidates"]))])
                k += len(j["candidates"])
        out.append(runs)
    return out


def _stdio_outputs(tasks: list[dict], settings: dict, limits: dict, box: dict, input_s: float) -> dict[int, tuple]:
    """A stdin/stdout reference's output on each candidate: one program run per input, as verify runs them.
    The reference's stdout is the tail of a program that reads the input from a literal, not from stdin."""
    progs = []
    for t in tasks:
        code = ("import io as __io, sys as __sys\n__sys.stdin = __io.StringIO(" + repr(t["stdin"]) + ")\n"
                + t["code"] + f"\nprint({MARK!r})\n")
        progs.append({"id": t["id"], "kind": "asserts", "code": code, "tests": "", "entry_point": None})
    lim = {**limits, "wall_s": max(1.0, 10 * input_s), "cpu_s": max(1, int(10 * input_s) + 1)}
    res = run_tasks(progs, settings.get("backend", "docker"), lim, int(settings.get("workers") or 1), box)
    out = {}
    for t in progs:
        r = res[t["id"]]
        tail = r.get("tail") or ""
        ok = r["status"] == "passed" and tail.endswith(MARK + "\n")
        out[t["id"]] = (ok, tail[: -len(MARK) - 1] if ok else r["status"])
    return out


def _parse(result: dict[str, Any], n: int) -> list[tuple[bool, str]]:
    """The harness's lines -> (ok, output repr) per candidate; a candidate without a line failed."""
    got: dict[int, tuple[bool, str]] = {}
    if result.get("status") == "passed":
        for line in (result.get("tail") or "").splitlines():
            if line.startswith(MARK):
                i, ok, text, _ = json.loads(line[len(MARK):])
                got[int(i)] = (bool(ok), text)
    return [got.get(i, (False, result.get("status", "crashed"))) for i in range(n)]


def build_extended(problems: list[dict[str, Any]], dataset: str, experiment_seed: int, settings: dict[str, Any],
                   ext: dict[str, Any], evalplus: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One EXTENDED row per problem (in order): kept inputs and their expected outputs, and a note.
    `settings` are the verify settings (sandbox, limits), `ext` the extended-test settings."""
    ext = {**DEFAULTS, **ext}
    count = int(ext["inputs"])
    jobs, rows = [], []
    for p in problems:
        row = {"problem_id": p["problem_id"], "source": "none", "kind": "call", "inputs": [], "outputs": [],
               "atol": 0.0, "seeds": 0, "candidates": 0, "note": ""}
        rows.append(row)
        plus = (evalplus or {}).get(p["problem_id"])
        solution = (plus or {}).get("solution") or p.get("solution")
        if p.get("task") != "code":
            row["note"] = "not a code problem"
            continue
        if not solution:
            row["note"] = "no reference solution"
            continue
        if plus is not None:
            row.update(source="evalplus", atol=plus["atol"], seeds=0)
            cands = plus["inputs"]
            if plus["dropped"]:
                row["note"] = f"{plus['dropped']} inputs of the file are not Python literals"
        else:
            rng = random.Random(problem_seed(experiment_seed, dataset, p["problem_id"]))
            kind, cands, seeds, note = _candidates(p, count * int(ext["oversample"]), rng)
            row.update(source="mutation", kind=kind, seeds=seeds, note=note)
        row["candidates"] = len(cands)
        if cands:
            jobs.append({"row": row, "kind": row["kind"], "candidates": cands, "solution": solution,
                         "entry_point": p.get("entry_point"), "limit": None if plus is not None else count})
    for job, runs in zip(jobs, _reference_runs(jobs, settings, ext), strict=True):
        row, first, second = job["row"], runs[0], runs[1]
        failed = flaky = 0
        for cand, a, b in zip(job["candidates"], first, second, strict=True):
            if job["limit"] is not None and len(row["inputs"]) >= job["limit"]:
                break
            if not (a[0] and b[0]):
                failed += 1
            elif a[1] != b[1]:
                flaky += 1
            else:
                row["inputs"].append(cand)
                row["outputs"].append(a[1])
        parts = [row["note"]] if row["note"] else []
        if failed:
            parts.append(f"{failed} inputs dropped: the reference failed or ran over {ext['input_s']} s")
        if flaky:
            parts.append(f"{flaky} inputs dropped: the reference answered differently twice")
        if not row["inputs"]:
            parts.append("no input kept")
        row["note"] = "; ".join(parts)
    return rows


def load_extended(path: str | Path | None) -> dict[str, dict[str, Any]]:
    """problem_id -> extended tests (rows with at least one input) of an EXTENDED table; {} without one."""
    if not path:
        return {}
    return {r["problem_id"]: r for r in read_table(path, EXTENDED).to_pylist() if r["inputs"]}


def extend_dataset(problems_path: str | Path, output: str | Path, config: dict[str, Any], dataset: str,
                   threads: int = 1) -> dict[str, Any]:
    """Build a dataset's extended-tests table beside its problem table."""
    problems = read_table(problems_path, PROBLEMS).to_pylist()
    settings = config.get("verify") or {}
    ext = settings_of(config, dataset)
    evalplus = read_evalplus(ext["file"]) if ext.get("file") else None
    rows = build_extended(problems, dataset, int(config.get("seed", 0)),
                          {**settings, "workers": settings.get("workers") or threads}, ext, evalplus)
    if len(rows) != len(problems):
        raise DataError(f"{output}: {len(rows)} extended rows for {len(problems)} problems in {problems_path}")
    for r in rows:  # what the runner will read back: every kept input and output is a literal
        for text in r["inputs"] + r["outputs"] if r["kind"] == "call" else []:
            ast.literal_eval(text)
    empty = [r["problem_id"] for r in rows if not r["inputs"]]
    summary = {"dataset": dataset, "problems": len(rows), "with_inputs": len(rows) - len(empty),
               "inputs": sum(len(r["inputs"]) for r in rows), "without": empty, "settings": ext}
    write_table(output, pa.Table.from_pylist(rows, schema=EXTENDED), EXTENDED, metadata=summary)
    if empty:
        log.warning("%s: %d problems got no extended tests: %s", output, len(empty),
                    "; ".join(f"{r['problem_id']} ({r['note']})" for r in rows if not r["inputs"])[:2000])
    log.info("wrote %s: %d extended inputs for %d of %d problems", output, summary["inputs"],
             summary["with_inputs"], len(rows))
    return summary
