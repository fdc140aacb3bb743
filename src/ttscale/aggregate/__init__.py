"""Aggregation: join the sample, verdict and score shards of one run into per-sample and per-problem tables.

DuckDB reads the shards the planner lists (never a glob: a stale block left over from an older sample
count must not be counted twice), reading only the columns analysis needs. Verdict and score shards
mirror their sample shard row by row, so the join is positional (fast); the keys are compared first
and a shard whose rows come in another order is joined on (problem_id, sample_index) instead. Every
sample must have exactly one verdict and one score per scorer; otherwise a DataError names the shard
and the missing rows, and nothing is written.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ttscale.errors import DataError
from ttscale.io import atomic_path, check_schema, read_table, write_table
from ttscale.schemas import PROBLEMS, SAMPLES, SCORES, VERDICTS

log = logging.getLogger(__name__)

SAMPLE_COLS = ("prompt_tokens", "completion_tokens", "cumulative_logprob")
# per problem, on the answers of a search strategy (ttscale.search.SEARCH): every token the search
# spent, pruned beams included; NULL for repeated sampling
SEARCH_COLS = ("search_prompt_tokens", "search_completion_tokens")
# a reasoning model's shards (ttscale.reasoning, ttscale.search.budget): kept per sample when every
# shard of the run has them, absent otherwise (so other runs' tables do not change)
THINKING_COLS = ("thinking_tokens", "thinking_status", "thinking_budget", "times_extended", "times_cut")
VERDICT_COLS = ("correct", "status", "answer_key", "correct_extended")
# optional verdict columns and their type: NULL for shards written before the column existed
OPTIONAL_COLS = {"correct_extended": "BOOLEAN"}
STEP_AGGS = ("last", "min", "prod", "mean")
EXAMPLES = 5  # missing rows named in an error message

AGG_PROBLEMS = pa.schema(
    [
        ("model", pa.string()),
        ("dataset", pa.string()),
        ("sampling", pa.string()),
        ("problem_id", pa.string()),
        ("position", pa.int32()),
        ("level", pa.string()),
        ("n", pa.int64()),
        ("n_correct", pa.int64()),
        ("pass_at_1", pa.float64()),
        ("n_no_answer", pa.int64()),
        ("n_distinct_answers", pa.int64()),
        ("prompt_tokens", pa.float64()),
        ("completion_tokens", pa.float64()),
        ("completion_tokens_total", pa.int64()),
        ("search_prompt_tokens", pa.int64()),
        ("search_completion_tokens", pa.int64()),
    ]
)


def score_column(scorer: str, agg: str | None = None) -> str:
    """Name of a scorer's column in the per-sample table (`score_<scorer>[_<agg>]`)."""
    return f"score_{scorer}" if agg is None else f"score_{scorer}_{agg}"


def _q(path: str | Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_files(stage: str, files: Sequence[str], schema: pa.Schema) -> dict[str, tuple[int, set[str]]]:
    """Existence and schema of each shard, from its footer alone; returns block name -> (row count,
    column names)."""
    rows: dict[str, tuple[int, set[str]]] = {}
    missing = [f for f in files if not Path(f).exists()]
    if missing:
        more = f" (and {len(missing) - EXAMPLES} more)" if len(missing) > EXAMPLES else ""
        raise DataError(f"{stage}: {len(missing)} shard(s) missing: {', '.join(missing[:EXAMPLES])}{more}")
    for f in files:
        try:
            meta = pq.read_metadata(f)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{f}: not a readable Parquet file ({exc})") from exc
        arrow = meta.schema.to_arrow_schema()
        check_schema(arrow, schema, f)
        name = Path(f).stem
        if name in rows:
            raise DataError(f"{stage}: block {name} is listed twice ({f})")
        rows[name] = (meta.num_rows, set(arrow.names))
    return rows


class _Partner:
    """A stage whose shards mirror the sample shards (verdicts, or one scorer's scores)."""

    def __init__(self, stage: str, files: Sequence[str], cols: dict[str, str], schema: pa.Schema) -> None:
        self.stage = stage
        self.cols = cols  # source column -> output column
        self.names = {b: names for b, (_, names) in _check_files(stage, files, schema).items()}
        self.by_block = {Path(f).stem: str(f) for f in files}

    def select(self, block: str) -> str:
        """`source AS output` for each column; an optional column the block's shard lacks is NULL."""
        return ", ".join(f"{c} AS {_ident(d)}" if c in self.names[block] or c not in OPTIONAL_COLS
                         else f"CAST(NULL AS {OPTIONAL_COLS[c]}) AS {_ident(d)}" for c, d in self.cols.items())


def _pair(samples: dict[str, str], partner: _Partner) -> None:
    lacking = sorted(set(samples) - set(partner.by_block))
    extra = sorted(set(partner.by_block) - set(samples))
    if lacking or extra:
        msg = [f"{partner.stage}: shards do not match the sample shards"]
        if lacking:
            names = ", ".join(samples[b] for b in lacking[:EXAMPLES])
            msg.append(f"no {partner.stage} shard for sample shard(s) {names}")
        if extra:
            names = ", ".join(partner.by_block[b] for b in extra[:EXAMPLES])
            msg.append(f"{partner.stage} shard(s) without samples: {names}")
        raise DataError("; ".join(msg))


def _key_mismatches(con: duckdb.DuckDBPyConnection, samples: dict[str, str],
                    partners: list[_Partner]) -> dict[str, set[str]]:
    """Blocks whose partner shard is not row-aligned with the sample shard, per partner stage."""
    keys = "(SELECT problem_id, sample_index FROM read_parquet({}))"
    parts = []
    for i, (block, spath) in enumerate(samples.items()):
        checks = ", ".join(
            f"count_if(s.problem_id IS DISTINCT FROM p{j}.problem_id "
            f"OR s.sample_index IS DISTINCT FROM p{j}.sample_index)"
            for j in range(len(partners))
        )
        joins = " ".join(f"POSITIONAL JOIN {keys.format(_q(p.by_block[block]))} p{j}" for j, p in enumerate(partners))
        parts.append(f"SELECT {i} AS blk, {checks} FROM {keys.format(_q(spath))} s {joins}")
    out: dict[str, set[str]] = {p.stage: set() for p in partners}
    if not partners:
        return out
    blocks = list(samples)
    for row in con.execute(" UNION ALL ".join(parts)).fetchall():
        for j, bad in enumerate(row[1:]):
            if bad:
                out[partners[j].stage].add(blocks[row[0]])
    return out


def _keyed_diff(con: duckdb.DuckDBPyConnection, spath: str, ppath: str, stage: str) -> str | None:
    """None if the two shards hold the same keys (in another order); else the error text."""
    sel = "SELECT problem_id, sample_index FROM read_parquet({})"
    missing = con.execute(f"{sel.format(_q(spath))} EXCEPT ALL {sel.format(_q(ppath))} ORDER BY 1, 2").fetchall()
    extra = con.execute(f"{sel.format(_q(ppath))} EXCEPT ALL {sel.format(_q(spath))} ORDER BY 1, 2").fetchall()
    if not missing and not extra:
        return None
    msg = []
    if missing:
        ex = ", ".join(f"({p!r}, {s})" for p, s in missing[:EXAMPLES])
        msg.append(f"{ppath}: {len(missing)} sample row(s) of {spath} have no {stage} row, e.g. {ex}")
    if extra:
        ex = ", ".join(f"({p!r}, {s})" for p, s in extra[:EXAMPLES])
        msg.append(f"{ppath}: {len(extra)} {stage} row(s) match no sample row (or repeat one), e.g. {ex}")
    return "; ".join(msg)


def _check_samples(con: duckdb.DuckDBPyConnection, samples: dict[str, str], problem_ids: list[str],
                   planned: int | Mapping[str, int] | None) -> dict[str, int]:
    """Every sample belongs to a known problem, (problem_id, sample_index) is unique, counts are as planned
    (one count for all problems, or per problem id: an adaptive run's rounds give each its own)."""
    lst = "[" + ", ".join(_q(f) for f in samples.values()) + "]"
    rows = con.execute(
        f"SELECT problem_id, count(*), count(DISTINCT sample_index), min(sample_index), max(sample_index) "
        f"FROM read_parquet({lst}) GROUP BY problem_id"
    ).fetchall()
    known = set(problem_ids)
    counts = {}
    errors = []
    for pid, n, distinct, lo, hi in rows:
        if pid not in known:
            where = con.execute(f"SELECT any_value(filename) FROM read_parquet({lst}, filename=true) "
                                f"WHERE problem_id = ?", [pid]).fetchone()[0]
            errors.append(f"{where}: problem {pid!r} is not in the problem table")
            continue
        if distinct != n:
            dup = con.execute(
                f"SELECT sample_index, list(filename) FROM read_parquet({lst}, filename=true) WHERE problem_id = ? "
                f"GROUP BY sample_index HAVING count(*) > 1 ORDER BY sample_index LIMIT 1", [pid]).fetchone()
            where = ", ".join(sorted(set(dup[1])))
            errors.append(f"problem {pid!r}: sample {dup[0]} appears {len(dup[1])} times (in {where})")
        elif (want := planned.get(pid) if isinstance(planned, Mapping) else planned) is not None and (
                n != want or lo != 0 or hi != n - 1):
            errors.append(f"problem {pid!r}: samples {lo}..{hi} ({n} rows), expected 0..{want - 1}")
        counts[pid] = n
    absent = [p for p in problem_ids if p not in counts]
    if absent:
        errors.append(f"{len(absent)} problem(s) of the problem table have no samples, e.g. {absent[:EXAMPLES]}")
    if errors:
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        raise DataError("sample shards: " + "; ".join(errors[:10]) + more)
    return counts


def aggregate_run(
    *,
    samples: Sequence[str],
    verdicts: Sequence[str],
    scores: Mapping[str, Sequence[str]],
    problems: str | Path,
    out_samples: str | Path,
    out_problems: str | Path,
    model: str,
    dataset: str,
    sampling: str,
    exclude: Sequence[str] = (),
    samples_per_problem: int | Mapping[str, int] | None = None,
    search_scorer: Mapping[str, str] | None = None,
    threads: int = 2,
    memory_limit: str = "2GB",
) -> dict[str, Any]:
    """Check and join one run's shards; write the per-sample and per-problem tables.

    Per-sample columns: model, dataset, sampling, problem_id, sample_index, correct, status,
    answer_key, correct_extended (NULL without extended tests), prompt_tokens, completion_tokens,
    cumulative_logprob, search_prompt_tokens,
    search_completion_tokens (NULL unless the run is a search strategy), and per scorer
    `score_<scorer>` plus its step aggregations `score_<scorer>_{last,min,prod,mean}`.
    `search_scorer` ({"name", "aggregation"}; ttscale.plan.search_scorer): a beam or DVTS run's guide,
    whose columns come from the step scores the search recorded in the sample shards (as a score
    shard of a process scorer would hold them: NULL for an answer without steps).
    Problems in `exclude` are checked like all others but left out of both tables.
    """
    start = time.time()
    if not samples:
        raise DataError(f"{model}/{dataset}/{sampling}: no sample shards to aggregate")
    footers = _check_files("samples", samples, SAMPLES)
    if search_scorer is not None:
        if search_scorer["name"] in scores:
            raise DataError(f"{model}/{dataset}/{sampling}: scorer {search_scorer['name']} has score shards and "
                            f"is the search's own scorer too; it must be one or the other")
        if search_scorer["aggregation"] not in STEP_AGGS:
            raise DataError(f"{model}/{dataset}/{sampling}: unknown step aggregation "
                            f"{search_scorer['aggregation']!r} of scorer {search_scorer['name']}")
        lacking = [f for f, (_, names) in zip(samples, footers.values(), strict=True) if "step_scores" not in names]
        if lacking:
            raise DataError(f"{lacking[0]}: no step_scores column, so the scores of {search_scorer['name']} "
                            f"(the search's own scorer) cannot come from it; is it a search's shard?")
    by_block = {Path(f).stem: str(f) for f in samples}
    partners = [_Partner("verdicts", verdicts, {c: c for c in VERDICT_COLS}, VERDICTS)]
    for scorer, files in sorted(scores.items()):
        cols = {"score": score_column(scorer)} | {f"score_{a}": score_column(scorer, a) for a in STEP_AGGS}
        partners.append(_Partner(f"scores (scorer {scorer})", files, cols, SCORES))
    for p in partners:
        _pair(by_block, p)
    ptable = read_table(problems, PROBLEMS, columns=["problem_id", "position", "level"])
    problem_ids = ptable["problem_id"].to_pylist()

    con = duckdb.connect(config={"threads": max(1, int(threads)), "memory_limit": memory_limit})
    try:
        counts = _check_samples(con, by_block, problem_ids, samples_per_problem)
        misaligned = _key_mismatches(con, by_block, partners)
        errors = []
        keyed: set[str] = set()
        for p in partners:
            for block in sorted(misaligned[p.stage]):
                err = _keyed_diff(con, by_block[block], p.by_block[block], p.stage)
                if err:
                    errors.append(err)
                else:
                    keyed.add(block)
        if errors:
            more = f" (and {len(errors) - 10} more shards)" if len(errors) > 10 else ""
            raise DataError("count check failed: " + "; ".join(errors[:10]) + more)
        excluded = sorted(set(exclude) & set(problem_ids))
        unknown = sorted(set(exclude) - set(problem_ids))
        if unknown:
            log.warning("%s: excluded ids not in the problem table (ignored): %s", dataset, unknown[:EXAMPLES])
        scorers = [*scores, *([search_scorer["name"]] if search_scorer is not None else [])]
        meta = {"model": model, "dataset": dataset, "sampling": sampling, "blocks": sorted(by_block),
                "scorers": sorted(scorers), "excluded": excluded, "keyed_blocks": sorted(keyed),
                "samples": int(sum(n for n, _ in footers.values()))}
        search = all(set(SEARCH_COLS) <= names for _, names in footers.values())
        thinking = tuple(c for c in THINKING_COLS if all(c in names for _, names in footers.values()))
        query = _join_query(by_block, partners, keyed, model, dataset, sampling, excluded, search, thinking,
                            search_scorer)
        with atomic_path(out_samples) as tmp:
            kv = _q(json.dumps(meta, sort_keys=True))
            con.execute(f"COPY ({query}) TO {_q(tmp)} "
                        f"(FORMAT parquet, COMPRESSION zstd, KV_METADATA {{ttscale: {kv}}})")
        per_problem = _problem_table(con, out_samples, ptable, model, dataset, sampling)
    finally:
        con.close()
    write_table(out_problems, per_problem, AGG_PROBLEMS, metadata=meta)
    n_rows = int(sum(c for p, c in counts.items() if p not in set(excluded)))
    seconds = time.time() - start
    log.info("aggregated %s/%s/%s: %d samples of %d problems (%d excluded) from %d blocks in %.1fs",
             model, dataset, sampling, n_rows, per_problem.num_rows, len(excluded), len(by_block), seconds)
    return {**meta, "rows": n_rows, "problems": per_problem.num_rows, "seconds": round(seconds, 3)}


# a search's recorded step scores (a list column of its sample shard) as a process scorer's columns
_STEP_SQL = {"last": "s.step_scores[-1]", "min": "list_min(s.step_scores)",
             "prod": "list_aggregate(s.step_scores, 'product')", "mean": "list_avg(s.step_scores)"}


def _join_query(samples: dict[str, str], partners: list[_Partner], keyed: set[str], model: str, dataset: str,
                sampling: str, excluded: list[str], search: bool = False, extra: tuple[str, ...] = (),
                search_scorer: Mapping[str, str] | None = None) -> str:
    """One SELECT per block (positional join, or keyed for re-ordered shards), UNION ALL in block order."""
    consts = f"{_q(model)} AS model, {_q(dataset)} AS dataset, {_q(sampling)} AS sampling"
    sample_cols = (*SAMPLE_COLS, *SEARCH_COLS) if search else SAMPLE_COLS
    sample_cols = (*sample_cols, *extra)
    nulls = [] if search else [f"CAST(NULL AS BIGINT) AS {c}" for c in SEARCH_COLS]
    out_cols = ["s.problem_id", "s.sample_index", "p0.correct", "p0.status", "p0.answer_key", "p0.correct_extended",
                *(f"s.{c}" for c in sample_cols), *nulls]
    for j, p in enumerate(partners[1:], start=1):
        out_cols += [f"p{j}.{_ident(dst)}" for dst in p.cols.values()]
    if search_scorer is not None:  # NULL where the answer has no step scores, as a score shard would have it
        name, how = search_scorer["name"], search_scorer["aggregation"]
        out_cols.append(f"CAST({_STEP_SQL[how]} AS DOUBLE) AS {_ident(score_column(name))}")
        out_cols += [f"CAST({_STEP_SQL[a]} AS DOUBLE) AS {_ident(score_column(name, a))}" for a in STEP_AGGS]
        sample_cols = (*sample_cols, "step_scores")
    where = ""
    if excluded:
        where = " WHERE s.problem_id NOT IN (" + ", ".join(_q(e) for e in excluded) + ")"
    src_cols = ", ".join(("problem_id", "sample_index", *sample_cols))
    parts = []
    for block, spath in samples.items():
        if block in keyed:
            src = f"(SELECT {src_cols}, file_row_number FROM read_parquet({_q(spath)}, file_row_number=true)) s"
            joins = " ".join(
                f"JOIN (SELECT problem_id, sample_index, {p.select(block)} "
                f"FROM read_parquet({_q(p.by_block[block])})) p{j} "
                f"USING (problem_id, sample_index)"
                for j, p in enumerate(partners)
            )
            parts.append(f"SELECT * FROM (SELECT {consts}, {', '.join(out_cols)} FROM {src} {joins}{where} "
                         f"ORDER BY s.file_row_number)")
        else:
            src = f"(SELECT {src_cols} FROM read_parquet({_q(spath)})) s"
            joins = " ".join(
                f"POSITIONAL JOIN (SELECT {p.select(block)} "
                f"FROM read_parquet({_q(p.by_block[block])})) p{j}"
                for j, p in enumerate(partners)
            )
            parts.append(f"SELECT {consts}, {', '.join(out_cols)} FROM {src} {joins}{where}")
    return " UNION ALL ".join(parts)


def _problem_table(con: duckdb.DuckDBPyConnection, out_samples: str | Path, ptable: pa.Table, model: str,
                   dataset: str, sampling: str) -> pa.Table:
    con.register("_problems", ptable)
    table = con.sql(
        f"""
        SELECT {_q(model)} AS model, {_q(dataset)} AS dataset, {_q(sampling)} AS sampling,
               p.problem_id, p.position, p.level,
               s.n, s.n_correct, s.n_correct / s.n AS pass_at_1, s.n_no_answer, s.n_distinct_answers,
               s.prompt_tokens, s.completion_tokens, s.completion_tokens_total,
               s.search_prompt_tokens, s.search_completion_tokens
        FROM _problems p JOIN (
            SELECT problem_id, count(*) AS n, count_if(correct) AS n_correct,
                   count_if(answer_key IS NULL) AS n_no_answer, count(DISTINCT answer_key) AS n_distinct_answers,
                   avg(prompt_tokens) AS prompt_tokens, avg(completion_tokens) AS completion_tokens,
                   sum(completion_tokens) AS completion_tokens_total,
                   max(search_prompt_tokens) AS search_prompt_tokens,
                   max(search_completion_tokens) AS search_completion_tokens
            FROM read_parquet({_q(out_samples)}) GROUP BY problem_id
        ) s USING (problem_id)
        ORDER BY p.position
        """
    ).to_arrow_table()
    con.unregister("_problems")
    return table


def split_budgets(samples: str | Path, problems: str | Path, budgets: Sequence[Mapping[str, Any]],
                  folder: str | Path, threads: int = 2, memory_limit: str = "2GB") -> dict[str, tuple[Path, Path]]:
    """A search run's aggregate (every budget's answers, `sample_index` counting on across them;
    ttscale.plan.Run.labels) split into one per budget, as a run of that budget alone would have it:
    its answers with `sample_index` from 0 and `sampling` its label, and its own per-problem table.
    Returns label -> (samples, problems), written under `folder`."""
    ptable = pq.read_table(problems, columns=["problem_id", "position", "level"])
    meta = json.loads((pq.read_schema(samples).metadata or {}).get(b"ttscale", b"{}"))
    model, dataset = meta.get("model", ""), meta.get("dataset", "")
    out: dict[str, tuple[Path, Path]] = {}
    con = duckdb.connect(config={"threads": max(1, int(threads)), "memory_limit": memory_limit})
    try:
        cols = [c[0] for c in con.sql(f"DESCRIBE SELECT * FROM read_parquet({_q(samples)}, hive_partitioning = false)")
                .fetchall()]
        for b in budgets:
            label, first, n = str(b["label"]), int(b["first"]), int(b["budget"])
            spath, ppath = Path(folder) / f"{label}.samples.parquet", Path(folder) / f"{label}.problems.parquet"
            select = ", ".join(
                f"{_q(label)} AS sampling" if c == "sampling" else
                f"CAST(sample_index - {first} AS INTEGER) AS sample_index" if c == "sample_index" else _ident(c)
                for c in cols)
            kv = _q(json.dumps({**meta, "sampling": label, "budget": n}, sort_keys=True))
            con.execute(f"COPY (SELECT {select} FROM read_parquet({_q(samples)}, hive_partitioning = false) "
                        f"WHERE sample_index >= {first} AND sample_index < {first + n}) TO {_q(spath)} "
                        f"(FORMAT parquet, COMPRESSION zstd, KV_METADATA {{ttscale: {kv}}})")
            per_problem = _problem_table(con, spath, ptable, model, dataset, label)
            write_table(ppath, per_problem, AGG_PROBLEMS, metadata={**meta, "sampling": label, "budget": n})
            out[label] = (spath, ppath)
    finally:
        con.close()
    return out


def concat_parquet(parts: Sequence[str | Path], output: str | Path, metadata: dict[str, Any] | None = None) -> int:
    """One Parquet file of `parts` (the same columns) in their order, written atomically; the first
    part's `ttscale` metadata unless `metadata` is given. Returns the row count."""
    tables = [pq.read_table(p) for p in parts]
    schema = tables[0].schema
    table = pa.concat_tables([t.cast(schema) for t in tables])
    if metadata is not None:
        meta = dict(schema.metadata or {})
        meta[b"ttscale"] = json.dumps(metadata, sort_keys=True, default=str).encode()
        table = table.replace_schema_metadata(meta)
    with atomic_path(output) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return table.num_rows


def budget_parts(samples: str | Path, problems: str | Path, folder: str | Path) -> list[tuple[Path, Path]]:
    """A run's aggregate tables as one (samples, problems) pair per run they hold: themselves for a
    run of one `sampling`, else (a search run over several budgets) one pair per budget's label,
    written under `folder`, for readers that take one run per file pair (ttscale.analysis.data.load_run)."""
    labels = pq.read_table(problems, columns=["sampling"])["sampling"].unique().to_pylist()
    if len(labels) <= 1:
        return [(Path(samples), Path(problems))]
    tables = {kind: pq.read_table(path) for kind, path in (("samples", samples), ("problems", problems))}
    out = []
    for label in labels:
        for kind, t in tables.items():
            pq.write_table(t.filter(pc.equal(t["sampling"], label)), Path(folder) / f"{label}.{kind}.parquet")
        out.append((Path(folder) / f"{label}.samples.parquet", Path(folder) / f"{label}.problems.parquet"))
    return out
