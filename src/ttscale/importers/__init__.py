"""Importers: samples users already have, landed in the project's shard format (see docs/analysis.md).

Two layouts are read:

- `jsonl`: one JSON object per line and sample: `problem_id` and `text` (or `completion`) required;
  optional `sample_index` (default: order within the problem), `prompt`, `correct`, `answer` (the
  extracted answer) or `answer_key`, `status`, `prompt_tokens`, `completion_tokens`,
  `cumulative_logprob`, `finish_reason`, `scores` ({scorer: value}); problem fields `question`,
  `reference` (reference answer), `level` and `task` may ride on any line of the problem (they must
  agree).
- `llmonk`: the Large Language Monkeys dumps, a directory of one YAML file per problem with
  `prompt`, `question`, `samples` and `gt_answer` (math) or `test_cases` (code), and after their
  evaluation `is_corrects` (or `is_correct`); the problem id is the file name.

The importer writes the problem table, sample shards on the block grid, verdict shards when the
source says which samples are correct (or when asked to verify them with ttscale's verifiers), and
score shards for the scores a JSONL file carries, under a sampling key `<preset>-<hash8>` of the
source, so `ttscale analyze` (or the aggregate/analyze stages) read them like generated ones.

The key depends on the source's path, not its content, so importing a changed source again reuses
the directory. Each import therefore lists its blocks and scorers in `manifest.json` next to the
sample shards (written last; removed first, so a cut-short import has none), and `ttscale analyze`
reads only those: shards of an earlier, larger import stay on disk (nothing is deleted) but are
not mixed into the run.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from ttscale.blocks import Block, plan_blocks
from ttscale.errors import DataError
from ttscale.importers.base import IMPORTERS, Problem, ProblemStream, Reader, Sample, jsonl_objects  # noqa: F401  (re-exported)
from ttscale.io import write_json, write_table
from ttscale.keys import fingerprint
from ttscale.schemas import PROBLEMS, SAMPLES, SCORES, VERDICTS

log = logging.getLogger(__name__)


MANIFEST = "manifest.json"  # in an imported run's sample directory: the blocks and scorers of its last import


def read_manifest(path: Path) -> dict[str, Any]:
    """An import manifest: {"blocks": [block names], "scorers": [scorer names], ...}."""
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read the import manifest ({exc}); run `ttscale import` again") from None
    if not isinstance(m, dict):
        raise DataError(f"{path}: expected an object with `blocks` and `scorers`")
    for key in ("blocks", "scorers"):
        if not isinstance(m.get(key), list) or not all(isinstance(x, str) for x in m[key]):
            raise DataError(f"{path}: key `{key}` must be a list of names")
    for name in m["blocks"]:
        try:
            Block.parse(name)
        except DataError as exc:
            raise DataError(f"{path}: key `blocks`: {exc}") from None
    return m


def _problem_field(p: Problem, name: str, value: Any, where: str) -> None:
    if value is None:
        return
    old = getattr(p, name)
    if old not in (None, "", "other") and old != value:
        raise DataError(f"{where}: problem {p.problem_id!r} has {name} {value!r} here but {old!r} before")
    setattr(p, name, value)


def _flag(value: Any, where: str, key: str) -> bool | None:
    """A correctness flag: JSON booleans or the numbers 0 and 1 only, since bool("false") is True."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise DataError(f"{where}: `{key}` must be true, false, 0 or 1 (or null), got {value!r}")


def _count(value: Any, where: str, key: str) -> int | None:
    """A non-negative integer (an index or a token count); integral floats such as 12.0 pass."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataError(f"{where}: `{key}` must be a non-negative integer, got {value!r}")
    return value


def _number(value: Any, where: str, key: str) -> float | None:
    """A float (numbers or numeric strings); NaN counts as missing."""
    if value is None:
        return None
    if isinstance(value, bool | list | dict):
        raise DataError(f"{where}: `{key}` must be a number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: `{key}` must be a number, got {value!r}") from None
    return None if out != out else out


def _text(value: Any, where: str, key: str) -> str | None:
    """A string field; JSON numbers (e.g. `"answer": 42`) become their text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise DataError(f"{where}: `{key}` must be a string, got {value!r}")


@IMPORTERS.register("jsonl")
def read_jsonl(source: Path) -> list[Problem]:
    files = sorted(source.glob("*.jsonl")) if source.is_dir() else [source]
    if not files:
        raise DataError(f"{source}: no .jsonl files")
    problems: dict[str, Problem] = {}
    for f in files:
        for where, rec in jsonl_objects(f):
            if "problem_id" not in rec:
                raise DataError(f"{where}: each line needs a `problem_id`")
            text = rec.get("text", rec.get("completion"))
            if text is None:
                raise DataError(f"{where}: a sample needs `text` (or `completion`)")
            pid = str(rec["problem_id"])
            p = problems.setdefault(pid, Problem(pid, origin=where))
            for name, key in (("question", "question"), ("reference", "reference"), ("level", "level"),
                              ("task", "task")):
                val = rec.get(key)
                _problem_field(p, name, None if val is None else str(val), where)
            if "sample_index" in rec:
                raw = rec["sample_index"]
                if isinstance(raw, str) and raw.strip().isdigit():
                    raw = int(raw)
                idx = _count(raw, where, "sample_index")
                if idx is None:
                    raise DataError(f"{where}: `sample_index` is null (leave the key out to number "
                                    "samples in file order)")
            else:
                idx = len(p.samples)
            if idx in p.samples:
                raise DataError(f"{where}: problem {pid!r} sample {idx} occurs twice")
            scores = rec.get("scores") or {}
            if not isinstance(scores, dict):
                raise DataError(f"{where}: `scores` must be an object {{scorer: value}}")
            p.samples[idx] = Sample(
                text=str(text), prompt=str(rec.get("prompt") or ""),
                correct=_flag(rec.get("correct"), where, "correct"),
                answer=_text(rec.get("answer"), where, "answer"),
                answer_key=_text(rec.get("answer_key"), where, "answer_key"),
                status=_text(rec.get("status"), where, "status"),
                prompt_tokens=_count(rec.get("prompt_tokens"), where, "prompt_tokens"),
                completion_tokens=_count(rec.get("completion_tokens"), where, "completion_tokens"),
                cumulative_logprob=_number(rec.get("cumulative_logprob"), where, "cumulative_logprob"),
                finish_reason=str(rec.get("finish_reason") or "stop"),
                scores={str(k): _number(v, where, f"scores.{k}") for k, v in scores.items()})
            if not p.prompt and rec.get("prompt"):
                p.prompt = str(rec["prompt"])
    return list(problems.values())


def _prepare(group: list[Problem], source: Path, n: int, tokenizer: str | None, verify: dict[str, Any] | None,
             scorers: list[str], stream: bool) -> int:
    """Checks and vote keys of one group of problems before its shards are written; returns the
    number of vote groups split by label."""
    if stream:
        check_counts(group, source)
        if len(group[0].samples) != n:
            raise DataError(f"{group[0].origin or source}: problem {group[0].problem_id!r} has "
                            f"{len(group[0].samples)} samples but the first problem {n}; pass@k, votes and their "
                            "curves compare every problem at the same k, so import problems with equal counts")
        extra = {k for p in group for s in p.samples.values() for k in s.scores} - set(scorers)
        if extra:
            raise DataError(f"{source}: scores {sorted(extra)} appear only from problem {group[0].problem_id!r} on")
    if tokenizer:
        _count_tokens(group, tokenizer)
    if verify is not None:
        return 0
    _labeled(group, source)
    return separate_labels(group)


def _labeled(problems: list[Problem], source: Path) -> None:
    unlabeled = next(((p, i) for p in problems for i, s in p.samples.items() if s.correct is None), None)
    if unlabeled is not None:
        p, i = unlabeled
        raise DataError(f"{p.origin or source}: not every sample says whether it is correct (problem "
                        f"{p.problem_id!r} sample {i} has no label); pass --verify to run ttscale's verifiers "
                        "on them")


def _count_tokens(problems: list[Problem], tokenizer: str) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer, local_files_only=True)
    for p in problems:
        samples = list(p.samples.values())
        texts = [s.text for s in samples]
        lengths = [len(x) for x in tok(texts, add_special_tokens=False)["input_ids"]] if texts else []
        prompt_len = len(tok(p.prompt)["input_ids"]) if p.prompt else 0
        for s, n in zip(samples, lengths, strict=True):
            if s.completion_tokens is None:
                s.completion_tokens = n
            if s.prompt_tokens is None:
                s.prompt_tokens = prompt_len


def _problems_table(problems: list[Problem], dataset: str) -> pa.Table:
    n = len(problems)
    return pa.table({
        "problem_id": [p.problem_id for p in problems],
        "position": pa.array(range(n), pa.int32()),
        "dataset": [dataset] * n,
        "task": [p.task for p in problems],
        "question": [p.question for p in problems],
        "prompt_mode": ["completion"] * n,
        "messages": ["[]"] * n,
        "completion_prompt": [p.prompt for p in problems],
        "assistant_prefix": [""] * n,
        "stop": pa.array([[] for _ in problems], pa.list_(pa.string())),
        "answer": [p.reference for p in problems],
        "tests": [p.tests for p in problems],
        "test_style": [p.test_style for p in problems],
        "entry_point": [None] * n,
        "solution": [None] * n,
        "level": [p.level for p in problems],
        "metadata": [json.dumps(p.metadata, sort_keys=True) for p in problems],
    }, schema=PROBLEMS)


def _rows(problems: list[Problem], p0: int, p1: int, s0: int, s1: int) -> Iterator[tuple[Problem, int, Sample]]:
    for p in problems[p0:p1]:
        for i in sorted(p.samples):
            if s0 <= i < s1:
                yield p, i, p.samples[i]


def import_samples(kind: str, source: str | Path, experiment_dir: str | Path, model: str, dataset: str,
                   preset: str = "imported", block_size: int | None = None, problems_per_block: int = 500,
                   tokenizer: str | None = None, verify: dict[str, Any] | None = None,
                   options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read `source` with importer `kind` and write problems, samples, verdicts and scores shards
    under `experiment_dir`. `verify`: verify settings to run ttscale's verifiers instead of trusting
    the source's correctness (needed when it has none). `options`: the importer's own keywords
    (e.g. `extractor` for llmonk, `filter` and `metric` for lm-eval)."""
    source = Path(source)
    if not source.exists():
        raise DataError(f"{source}: does not exist")
    reader = IMPORTERS.get(kind, "ttscale import")
    options = {k: v for k, v in (options or {}).items() if v is not None}
    accepted = inspect.signature(reader).parameters
    for name in options:
        if name not in accepted or name == "source":
            raise DataError(f"importer {kind!r} has no option {name!r} (it takes {sorted(set(accepted) - {'source'})})")
    problems = reader(source, **options)
    stream = isinstance(problems, ProblemStream) and verify is None  # verify_block needs the problems table first
    if not stream:
        problems = list(problems)
    total = len(problems)
    if not total:
        raise DataError(f"{source}: no problems found")
    if not stream:
        check_counts(problems, source)
        if verify is None:  # before anything is written: the usual mistake, a source without labels
            _labeled(problems, source)
    items = iter(problems)
    try:
        return _write(kind, source, problems, items, stream, total, exp_dir=Path(experiment_dir), model=model,
                      dataset=dataset, preset=preset, block_size=block_size, problems_per_block=problems_per_block,
                      tokenizer=tokenizer, verify=verify)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()  # a streamed reader's pool stops at once when the import fails


def _write(kind: str, source: Path, problems: Any, items: Iterator[Problem], stream: bool, total: int,
           exp_dir: Path, model: str, dataset: str, preset: str, block_size: int | None, problems_per_block: int,
           tokenizer: str | None, verify: dict[str, Any] | None) -> dict[str, Any]:
    pending = [next(items)]
    n_max = len(pending[0].samples)
    if not n_max:
        raise DataError(f"{pending[0].origin or source}: problem {pending[0].problem_id!r} has no samples")
    scorers = [] if stream else sorted({k for p in problems for s in p.samples.values() for k in s.scores})
    ident = {"import": kind, "source": str(source.resolve()), "model": model, "dataset": dataset}
    key = f"{preset}-{fingerprint(ident)}"
    exp = exp_dir
    part = f"model={model}/dataset={dataset}/sampling={key}"
    run_dir = exp / "samples" / part
    manifest = run_dir / MANIFEST
    manifest.unlink(missing_ok=True)  # until this import is complete, analyze refuses the run
    problems_path = exp / "problems" / f"{dataset}.parquet"
    pmeta = {"dataset": dataset, "imported_from": str(source), "importer": kind}
    if not stream:
        write_table(problems_path, _problems_table(problems, dataset), PROBLEMS, metadata=pmeta)
    blocks = plan_blocks(total, n_max, block_size or n_max, problems_per_block)
    meta = {"model": model, "dataset": dataset, "sampling": key, "imported_from": str(source), "importer": kind}
    written = split = 0
    names: list[str] = []
    done: list[Problem] = []
    for p0, p1 in sorted({(b.p0, b.p1) for b in blocks}):
        # one group of problems at a time: a streamed source never holds more than a group's samples
        while len(done) + len(pending) < p1:
            p = next(items, None)
            if p is None:
                raise DataError(f"{source}: the importer announced {total} problems but gave "
                                f"{len(done) + len(pending)}")
            pending.append(p)
        group, pending = pending, []
        split += _prepare(group, source, n_max, tokenizer, verify, scorers, stream)
        for b in (b for b in blocks if (b.p0, b.p1) == (p0, p1)):
            rows = list(_rows(group, b.p0 - p0, b.p1 - p0, b.s0, b.s1))
            if not rows:
                continue
            names.append(b.name)
            spath = exp / "samples" / part / f"{b.name}.parquet"
            write_table(spath, _samples_table(rows), SAMPLES, metadata={**meta, "block": b.name})
            vpath = exp / "verdicts" / part / f"{b.name}.parquet"
            if verify is not None:
                from ttscale.verify import verify_block

                verify_block(spath, problems_path, vpath, verify)
            else:
                write_table(vpath, _verdicts(rows), VERDICTS, metadata={**meta, "block": b.name, "source": "import"})
            for scorer in scorers:
                write_table(exp / "scores" / f"scorer={scorer}" / part / f"{b.name}.parquet", pa.Table.from_pylist([{
                    "problem_id": p.problem_id, "sample_index": i, "score": s.scores.get(scorer),
                    "status": "ok" if s.scores.get(scorer) is not None else "error", "step_scores": None,
                    "step_ends": None, "score_last": None, "score_min": None, "score_prod": None,
                    "score_mean": None} for p, i, s in rows], schema=SCORES), SCORES,
                    metadata={**meta, "scorer": scorer})
            written += len(rows)
        if stream:
            for p in group:
                p.samples = {}  # written: free them
        done += group
    if next(items, None) is not None:
        raise DataError(f"{source}: the importer announced {total} problems but gave more")
    if stream:
        write_table(problems_path, _problems_table(done, dataset), PROBLEMS, metadata=pmeta)
    problems = done
    if split:
        log.warning("%s: %d answer groups held both correct and incorrect samples by the source's labels; each "
                    "was split by label so that no vote group mixes them", source, split)
    stale = sorted(set(p.stem for p in run_dir.glob("*.parquet")) - set(names))
    if stale:
        log.warning("%s: %d shards of an earlier import (e.g. %s) are not part of this one; they stay on disk "
                    "but analyze reads only the blocks in %s", run_dir, len(stale), stale[0], MANIFEST)
    write_json(manifest, {"blocks": names, "scorers": scorers, "n": n_max, "problems": len(problems),
                          "samples": written, "importer": kind, "imported_from": str(source),
                          "labels": "ttscale verifiers" if verify is not None else "source",
                          "vote_keys": ["ttscale verifiers"] if verify is not None else
                          sorted({p.extractor or "ttscale" for p in problems}),
                          "split_vote_groups": split})
    log.info("imported %d samples of %d problems from %s into %s (%d blocks)", written, len(problems), source,
             exp / "samples" / part, len(blocks))
    return {**meta, "problems": len(problems), "samples": written, "blocks": len(blocks), "scorers": scorers,
            "split_vote_groups": split}


def _verdicts(rows: list[tuple[Problem, int, Sample]]) -> pa.Table:
    from ttscale.schemas import VERDICT_STATUSES

    answers, keys, correct, statuses = [], [], [], []
    for p, i, s in rows:
        answer, key = vote_key(p, s)
        status = s.status or ("passed" if s.correct else "failed" if answer or p.task != "math" else "no_answer")
        if status not in VERDICT_STATUSES:
            raise DataError(f"problem {p.problem_id!r} sample {i}: status {status!r} is not one of {VERDICT_STATUSES}")
        answers.append(answer)
        keys.append(key)
        correct.append(bool(s.correct))
        statuses.append(status)
    n = len(rows)
    return pa.table({
        "problem_id": [p.problem_id for p, _, _ in rows], "sample_index": pa.array([i for _, i, _ in rows], pa.int32()),
        "extracted_answer": pa.array(answers, pa.string()), "answer_key": pa.array(keys, pa.string()),
        "correct": pa.array(correct, pa.bool_()), "status": statuses,
        "tests_passed": pa.array(correct, pa.bool_()).cast(pa.int32()), "tests_total": pa.array([1] * n, pa.int32()),
        "duration_s": pa.array([0.0] * n, pa.float64()), "output_tail": [""] * n,
        "correct_extended": pa.nulls(n, pa.bool_())}, schema=VERDICTS)  # imports bring no extended tests


def _samples_table(rows: list[tuple[Problem, int, Sample]]) -> pa.Table:
    """The sample shard of a block, built column by column (a million rows in seconds)."""
    n = len(rows)
    none = pa.nulls(n)
    return pa.table({
        "problem_id": [p.problem_id for p, _, _ in rows], "sample_index": pa.array([i for _, i, _ in rows], pa.int32()),
        "seed": none.cast(pa.int64()), "prompt": [s.prompt or p.prompt for p, _, s in rows],
        "text": [s.text for _, _, s in rows], "finish_reason": [s.finish_reason for _, _, s in rows],
        "prompt_tokens": pa.array([s.prompt_tokens for _, _, s in rows], pa.int32()),
        "completion_tokens": pa.array([s.completion_tokens for _, _, s in rows], pa.int32()),
        "cumulative_logprob": pa.array([s.cumulative_logprob for _, _, s in rows], pa.float64()),
        "latency_s": none.cast(pa.float64())}, schema=SAMPLES)


def vote_key(p: Problem, s: Sample) -> tuple[str | None, str | None]:
    """(extracted answer, vote key) of a sample: the source's when it names its extraction rule
    (p.extractor; None = no answer by that rule), else the given key, else ttscale's extraction."""
    if p.extractor is not None:
        return s.answer, s.answer_key
    from ttscale.verify.math import canonical_key, extract_answer

    answer = s.answer
    if answer is None and s.answer_key is None and p.task == "math":
        answer = extract_answer(s.text)  # so that majority vote has keys to group by
    return answer, s.answer_key if s.answer_key is not None else canonical_key(answer) if answer else None


def check_counts(problems: list[Problem], source: Path) -> None:
    """Every problem has samples 0..n-1 with one n for all: analysis compares problems at the same
    k, so a dump with unequal counts is refused here, naming the problems, not later in analyze."""
    for p in problems:
        if not p.samples:
            raise DataError(f"{source}: problem {p.problem_id!r} has no samples")
        if sorted(p.samples) != list(range(len(p.samples))):
            gaps = sorted(set(range(max(p.samples) + 1)) - set(p.samples))[:5]
            raise DataError(f"{source}: problem {p.problem_id!r} has sample indices {min(p.samples)}.."
                            f"{max(p.samples)} with gaps (missing e.g. {gaps}); indices must be 0..n-1")
    by_n: dict[int, list[str]] = {}
    for p in problems:
        by_n.setdefault(len(p.samples), []).append(p.problem_id)
    if len(by_n) > 1:
        common = max(by_n, key=lambda n: len(by_n[n]))
        odd = ", ".join(f"{ids[:3]} have {n}" for n, ids in sorted(by_n.items()) if n != common)
        raise DataError(f"{source}: problems have different sample counts ({len(by_n[common])} problems have "
                        f"{common}; {odd}); pass@k, votes and their curves compare every problem at the same k, "
                        "so import problems with equal counts (move the others out, or cut them to a common n)")


def separate_labels(problems: list[Problem]) -> int:
    """Split any vote group that holds both correct and incorrect samples (by the source's labels)
    into a correct and an incorrect group, so majority vote never credits a fraction of a group.
    With a source's own extraction rule this does not happen; returns how many groups were split."""
    split = 0
    for p in problems:
        labels: dict[str, set[bool]] = {}
        keys = {}
        for i, s in p.samples.items():
            answer, key = vote_key(p, s)
            keys[i] = (answer, key)
            if key is not None:
                labels.setdefault(key, set()).add(bool(s.correct))
        mixed = {k for k, v in labels.items() if len(v) > 1}
        split += len(mixed)
        for i, s in p.samples.items():
            answer, key = keys[i]
            if key in mixed:
                s.answer, s.answer_key = answer, f"{key} ({'correct' if s.correct else 'incorrect'} by the source)"
    return split


from ttscale.importers import evalharness, llmonk, lmeval  # noqa: E402,F401  (register their importers)
