"""Large Language Monkeys samples: their per-problem YAML dumps and the released Monkey Business files.

The LLMonk code (github.com/ScalingIntelligence/large_language_monkeys) writes one YAML file per
problem with `yaml.dump(..., sort_keys=True)`: `prompt`, `question`, `samples` and, by task,
`gt_answer` (GSM8K, MATH), `test_cases` {input, output} and `timeout` (CodeContests) or
`theorem_name` (MiniF2F). Its evaluators add `is_corrects` (the README calls it `is_correct`);
the CodeContests evaluator also adds `name` and `solutions` and names its files after the problem
without an extension (`1575_A. Another Sorting Problem`), so a problem id is the file name less a
`.yaml`/`.yml` suffix, never less anything after a dot.

The released samples (the `ScalingIntelligence/monkey_business` dataset, one `TASK_MODEL.json` per
task and model) hold the same records, one per problem, as a JSON array or JSON lines (or the
hub's Parquet conversion); a problem's id is its `orig_dataset_idx` (or `name`, `theorem_name`).

Every record is checked strictly: an error names the file and the key (and the record, in a
released file). Math votes group by the extractor of the rule that labeled the samples
(`llmonk-gsm8k` or `llmonk-math`, picked from the `gt_answer`'s form; see importers.extractors).
YAML is parsed with libyaml's C loader where pyyaml has it (about 30x faster than pure Python).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from ttscale.errors import DataError
from ttscale.importers.base import IMPORTERS, Problem, ProblemStream, Sample, jsonl_objects
from ttscale.importers.extractors import EXTRACTORS, minerva_reference

log = logging.getLogger(__name__)

KNOWN = {"prompt", "question", "samples", "gt_answer", "test_cases", "timeout", "theorem_name", "is_corrects",
         "is_correct", "solutions", "name"}
RELEASED = {"orig_dataset_idx", "orig_dataset_split"}  # extra keys of the Monkey Business records
SUFFIXES = (".yaml", ".yml")


def yaml_loader(pure: bool = False) -> type:
    """libyaml's C safe loader where the installed pyyaml has it; `pure` forces the Python one."""
    import yaml

    return yaml.SafeLoader if pure or not hasattr(yaml, "CSafeLoader") else yaml.CSafeLoader


def _files(source: Path) -> list[tuple[str, Path]]:
    """(problem id, file) of a dump: every visible file of the folder (CodeContests' evaluator
    writes them without an extension); two files with one id (`0.yaml`, `0.yml`) are an error."""
    if not source.is_dir():
        return [(_pid(source), source)]
    out: dict[str, Path] = {}
    for f in sorted(source.iterdir()):
        if f.name.startswith(".") or not f.is_file():
            continue
        pid = _pid(f)
        if pid in out:
            raise DataError(f"{source}: files {out[pid].name!r} and {f.name!r} are both problem {pid!r}")
        out[pid] = f
    if not out:
        raise DataError(f"{source}: no files (Large Language Monkeys dumps have one YAML file per problem)")
    return list(out.items())


def _pid(f: Path) -> str:
    return f.name[: -len(f.suffix)] if f.suffix.lower() in SUFFIXES else f.name


def _load(args: tuple[str, str, bool]) -> tuple[str, str, Any]:
    import yaml

    pid, path, pure = args
    try:
        with open(path, "rb") as fh:
            return pid, path, yaml.load(fh, Loader=yaml_loader(pure))
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def _strings(value: Any, where: str, key: str, nullable: bool = False) -> list:
    if not isinstance(value, list):
        raise DataError(f"{where}: `{key}` must be a list, got {type(value).__name__}")
    for i, x in enumerate(value):
        if not (isinstance(x, str) or (nullable and x is None)):
            raise DataError(f"{where}: `{key}[{i}]` must be a string, got {x!r}")
    return value


def _kind(rec: dict, where: str) -> str:
    kinds = [k for k in ("gt_answer", "test_cases", "theorem_name") if rec.get(k) is not None]
    if len(kinds) != 1:
        raise DataError(f"{where}: expected exactly one of `gt_answer` (GSM8K, MATH), `test_cases` (CodeContests) "
                        f"or `theorem_name` (MiniF2F), found {kinds or 'none'}")
    return kinds[0]


def math_rule(gt_answer: str) -> str | None:
    """The LLMonk evaluator's rule for a reference: GSM8K's `#### n` or MATH's `\\boxed{}`."""
    if EXTRACTORS.get("llmonk-gsm8k")(gt_answer) is not None:
        return "llmonk-gsm8k"
    if "\\boxed" in gt_answer or "\\fbox" in gt_answer:
        return "llmonk-math"
    return None


def record_problem(rec: Any, where: str, pid: str, extractor: str | None = None) -> Problem:
    """One LLMonk record -> Problem, checking every key it uses; `where` names the file (and record)."""
    if not isinstance(rec, dict):
        raise DataError(f"{where}: expected a mapping with `prompt`, `samples`, ..., got {type(rec).__name__}")
    unknown = sorted(set(map(str, rec)) - KNOWN - RELEASED)
    if unknown:
        log.warning("%s: keys %s are not imported", where, unknown)
    if "samples" not in rec:
        raise DataError(f"{where}: key `samples` is missing")
    samples = _strings(rec["samples"], where, "samples")
    if not samples:
        raise DataError(f"{where}: `samples` is empty (a problem without samples would change coverage)")
    for key in ("prompt", "question"):
        if rec.get(key) is not None and not isinstance(rec[key], str):
            raise DataError(f"{where}: `{key}` must be a string, got {type(rec[key]).__name__}")
    if "is_corrects" in rec and "is_correct" in rec and rec["is_corrects"] != rec["is_correct"]:
        raise DataError(f"{where}: `is_corrects` and `is_correct` disagree")
    ckey = "is_corrects" if "is_corrects" in rec else "is_correct"
    corrects = rec.get(ckey)
    if corrects is not None:
        if not isinstance(corrects, list):
            raise DataError(f"{where}: `{ckey}` must be a list of booleans, got {type(corrects).__name__}")
        if len(corrects) != len(samples):
            raise DataError(f"{where}: `{ckey}` has {len(corrects)} entries for {len(samples)} `samples`")
        for i, c in enumerate(corrects):
            if not isinstance(c, bool):
                raise DataError(f"{where}: `{ckey}[{i}]` must be true or false, got {c!r}")
    p = Problem(pid, question=rec.get("question") or "", prompt=rec.get("prompt") or "", origin=where)
    kind = _kind(rec, where)
    keys: list[str | None] = [None] * len(samples)
    if kind == "gt_answer":
        gt = rec["gt_answer"]
        if not isinstance(gt, str):
            raise DataError(f"{where}: `gt_answer` must be a string, got {type(gt).__name__}")
        rule = extractor or math_rule(gt)
        if rule is None:
            raise DataError(f"{where}: `gt_answer` has neither GSM8K's `#### <answer>` nor MATH's `\\boxed{{}}`; "
                            "pass --extractor to name the rule its labels came from")
        extract = EXTRACTORS.get(rule, "--extractor")
        p.reference = (EXTRACTORS.get("llmonk-gsm8k")(gt) if rule == "llmonk-gsm8k" else
                       minerva_reference(gt) if rule == "llmonk-math" else extract(gt)) or gt
        p.task, p.extractor = "math", rule
        p.metadata["gt_answer"] = gt
        keys = [extract(s) for s in samples]
    elif kind == "test_cases":
        tc = rec["test_cases"]
        if not isinstance(tc, dict):
            raise DataError(f"{where}: `test_cases` must be a mapping with `input` and `output` lists, got "
                            f"{type(tc).__name__}")
        for key in ("input", "output"):
            if key not in tc:
                raise DataError(f"{where}: key `test_cases.{key}` is missing")
            _strings(tc[key], where, f"test_cases.{key}")
        if len(tc["input"]) != len(tc["output"]):
            raise DataError(f"{where}: `test_cases.input` has {len(tc['input'])} entries but `test_cases.output` "
                            f"{len(tc['output'])}")
        p.tests = json.dumps([{"input": i, "output": o} for i, o in zip(tc["input"], tc["output"], strict=True)])
        p.test_style, p.task = "stdio", "code"
        timeout = rec.get("timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
            raise DataError(f"{where}: `timeout` must be a positive number of seconds or null, got {timeout!r}")
        p.metadata["timeout"] = timeout
        if "solutions" in rec:
            sols = _strings(rec["solutions"], where, "solutions", nullable=True)
            if len(sols) != len(samples):
                raise DataError(f"{where}: `solutions` has {len(sols)} entries for {len(samples)} `samples`")
        if rec.get("name") is not None and str(rec["name"]) != pid:
            raise DataError(f"{where}: `name` {rec['name']!r} is not the problem id {pid!r} (the file name)")
    else:
        name = rec["theorem_name"]
        if not isinstance(name, str):
            raise DataError(f"{where}: `theorem_name` must be a string, got {type(name).__name__}")
        p.metadata["theorem_name"] = name
    for key in RELEASED & set(rec):
        p.metadata[key] = rec[key]
    for i, text in enumerate(samples):
        p.samples[i] = Sample(text=text, correct=None if corrects is None else corrects[i], answer=keys[i],
                              answer_key=keys[i])
    return p


def _check_same_kind(problems: list[tuple[Problem, str]]) -> None:
    first, where0 = problems[0]
    for p, where in problems[1:]:
        if (p.task, p.extractor) != (first.task, first.extractor):
            raise DataError(f"{where}: a {p.extractor or p.task} problem in a dump whose first problem ({where0}) "
                            f"is {first.extractor or first.task}; import each task on its own")


@IMPORTERS.register("llmonk")
def read_llmonk(source: Path, extractor: str | None = None, loader: str = "c", workers: int | None = None
                ) -> ProblemStream:
    """A dump folder (or one file), streamed in file order. `loader`: "c" (libyaml where available)
    or "pure"; `workers`: parsing processes (default: the CPUs, at most 8; 1 parses in this process)."""
    if loader not in ("c", "pure"):
        raise DataError(f"loader must be 'c' or 'pure', got {loader!r}")
    files = _files(source)
    if extractor is not None:
        EXTRACTORS.get(extractor, "--extractor")
    jobs = [(pid, str(f), loader == "pure", extractor) for pid, f in files]
    workers = workers or min(8, os.cpu_count() or 1)
    return ProblemStream(len(jobs), _same_kind(_parse(jobs, workers)))


def _same_kind(items: Iterator[tuple[Problem, str]]) -> Iterator[Problem]:
    first: tuple[Problem, str] | None = None
    for p, where in items:
        first = first or (p, where)
        _check_same_kind([first, (p, where)])
        yield p


def _read_one(job: tuple[str, str, bool, str | None]) -> tuple[Problem, str]:
    pid, path, pure, extractor = job
    return record_problem(_load((pid, path, pure))[2], path, pid, extractor), path


def _parse(jobs: list[tuple[str, str, bool, str | None]], workers: int) -> Iterator[tuple[Problem, str]]:
    """Files parsed and checked by a pool of processes (YAML parsing is most of an import's time)."""
    if workers <= 1 or len(jobs) < 4:
        yield from map(_read_one, jobs)
        return
    pool = ProcessPoolExecutor(workers)
    try:
        yield from pool.map(_read_one, jobs, chunksize=max(1, min(16, len(jobs) // (workers * 8))))
    finally:  # an error (here or in the import) stops the files not yet parsed
        pool.shutdown(wait=True, cancel_futures=True)


def _released_records(f: Path) -> Iterator[tuple[str, Any]]:
    if f.suffix == ".parquet":
        import pyarrow.parquet as pq

        for i, rec in enumerate(pq.read_table(f).to_pylist()):
            yield f"{f}: record {i}", rec
        return
    with open(f, encoding="utf-8") as fh:
        head = fh.read(1)
        while head and head.isspace():
            head = fh.read(1)
        fh.seek(0)
        if head == "[":
            try:
                records = json.load(fh)
            except json.JSONDecodeError as exc:
                raise DataError(f"{f}: not JSON ({exc})") from None
            for i, rec in enumerate(records):
                yield f"{f}: record {i}", rec
            return
    yield from jsonl_objects(f)


@IMPORTERS.register("monkey-business")
def read_monkey_business(source: Path, extractor: str | None = None) -> list[Problem]:
    """The released samples: one `TASK_MODEL.json` (JSON array or lines) or its Parquet conversion."""
    if source.is_dir():
        raise DataError(f"{source}: pass one file of the release (e.g. GSM8K_Llama-3-8B-Instruct.json); "
                        "each holds one task and model")
    out: list[tuple[Problem, str]] = []
    seen: dict[str, str] = {}
    for where, rec in _released_records(source):
        if not isinstance(rec, dict):
            raise DataError(f"{where}: expected an object, got {type(rec).__name__}")
        ident = next((rec[k] for k in ("orig_dataset_idx", "name", "theorem_name") if rec.get(k) is not None), None)
        if ident is None:
            raise DataError(f"{where}: key `orig_dataset_idx` is missing (the problem's id)")
        pid = str(ident)
        if pid in seen:
            raise DataError(f"{where}: problem {pid!r} occurs twice (first at {seen[pid]})")
        seen[pid] = where
        out.append((record_problem(rec, where, pid, extractor), where))
    if not out:
        raise DataError(f"{source}: no records")
    _check_same_kind(out)
    return [p for p, _ in out]
