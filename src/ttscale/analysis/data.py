"""One run's aggregated tables as dense problem x sample matrices (what the estimators work on).

The per-sample table is read with column projection; rows are scattered into their (problem,
sample_index) cell, so the file's row order does not matter, and every cell must be filled exactly
once (a hole or a duplicate is a DataError naming the file).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ttscale.aggregate import STEP_AGGS
from ttscale.analysis.estimators import group_labels
from ttscale.analysis.selectors import available
from ttscale.errors import DataError


class Layout:
    """Where each row of the per-sample table goes in the dense P x n matrix.

    Aggregated rows come in runs of consecutive cells (a block's samples of one problem), so copying
    run by run is much faster than a fancy-indexed scatter of every row.
    """

    def __init__(self, cell: np.ndarray, shape: tuple[int, int], kept: np.ndarray | None = None) -> None:
        self.cell, self.shape, self.kept = cell, shape, kept  # kept: rows of the table that have a cell
        breaks = np.flatnonzero(np.diff(cell) != 1) + 1
        self.starts = np.r_[0, breaks]
        self.ends = np.r_[breaks, len(cell)]
        self.runs = len(self.starts)

    def dense(self, values: np.ndarray, dtype: type) -> np.ndarray:
        if self.kept is not None:
            values = values[self.kept]
        out = np.empty(self.shape[0] * self.shape[1], dtype)
        if self.runs * 20 < len(self.cell):  # long runs: slice copies
            for a, b in zip(self.starts.tolist(), self.ends.tolist(), strict=True):
                c = int(self.cell[a])
                out[c : c + b - a] = values[a:b]
        else:
            out[self.cell] = values
        return out.reshape(self.shape)


class Scores(Mapping[str, np.ndarray]):
    """Score matrices (P x n, NaN = unscored) read from the per-sample table on first use.

    A run can have a dozen score columns; reading them lazily keeps one run of 10 million samples
    well under the memory budget. `limit` keeps the first columns only (see RunData.subset).
    """

    def __init__(self, path: Path, columns: dict[str, str], layout: Layout, limit: int | None = None,
                 derived: dict[str, Callable[[], np.ndarray]] | None = None) -> None:
        self.path, self.columns, self.layout, self.limit = path, columns, layout, limit
        self.derived = derived or {}
        self._cache: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._cache:
            if name in self.columns:
                col = pq.read_table(self.path, columns=[self.columns[name]]).column(0)
                vals = col.to_numpy().astype(np.float64) if col.null_count == 0 else \
                    col.to_numpy(zero_copy_only=False).astype(np.float64)
                mat = self.layout.dense(vals, np.float64)
            elif name in self.derived:
                mat = self.derived[name]()
            else:
                raise KeyError(name)
            self._cache[name] = mat
        mat = self._cache[name]
        return mat if self.limit is None else mat[:, : self.limit]

    def __iter__(self) -> Iterator[str]:
        return iter([*self.columns, *(d for d in self.derived if d not in self.columns)])

    def __len__(self) -> int:
        return len(list(iter(self)))

    def release(self, name: str) -> None:
        self._cache.pop(name, None)

    def limited(self, m: int) -> Scores:
        view = Scores(self.path, self.columns, self.layout, m, self.derived)
        view._cache = self._cache
        return view


@dataclass
class RunData:
    model: str
    dataset: str
    sampling: str
    problem_ids: list[str]
    levels: list[str | None]
    correct: np.ndarray  # P x n bool
    labels: np.ndarray  # P x n int32, -1 = no answer key
    group_sizes: np.ndarray  # P x G
    group_corr: np.ndarray  # P x G
    prompt_tokens: np.ndarray  # P x n, NaN = unknown
    completion_tokens: np.ndarray  # P x n, NaN = unknown
    scores: Mapping[str, np.ndarray] = field(default_factory=dict)  # score name -> P x n (NaN = unscored)
    unscored: frozenset[str] = frozenset()  # score columns that hold no value at all
    search_tokens: np.ndarray | None = None  # per problem: every token a search strategy sent and generated
    # P x n: correct under the extended tests (ttscale.verify.extended), the base verdict where a problem has
    # none; None when the run has no extended verdicts at all. `extended`: P, whether the problem has them.
    correct_extended: np.ndarray | None = None
    extended: np.ndarray | None = None

    @property
    def n_problems(self) -> int:
        return self.correct.shape[0]

    @property
    def n(self) -> int:
        return self.correct.shape[1]

    @property
    def n_correct(self) -> np.ndarray:
        return self.correct.sum(axis=1)

    def subset(self, m: int) -> RunData:
        """The first m samples of every problem (sample seeds are independent: a random m-subset)."""
        labels, sizes, corr = group_labels(self.labels[:, :m], self.correct[:, :m])
        scores = self.scores.limited(m) if isinstance(self.scores, Scores) else \
            {k: v[:, :m] for k, v in self.scores.items()}
        return RunData(self.model, self.dataset, self.sampling, self.problem_ids, self.levels,
                       self.correct[:, :m], labels, sizes, corr, self.prompt_tokens[:, :m],
                       self.completion_tokens[:, :m], scores, self.unscored)  # a search is not subsettable


def score_names(columns: list[str], scorers: list[str]) -> dict[str, str]:
    """Selector score name (`orm`, `prm:last`) -> column, for the scorers' columns in the table."""
    out = {}
    for s in scorers:
        if f"score_{s}" in columns:
            out[s] = f"score_{s}"
        for a in STEP_AGGS:
            if f"score_{s}_{a}" in columns:
                out[f"{s}:{a}"] = f"score_{s}_{a}"
    return out


def _rows_of(column: pa.ChunkedArray, pids: list[str], where: Path) -> np.ndarray:
    """Problem row of every sample, through the (small) dictionaries of the problem_id column."""
    pos = {p: i for i, p in enumerate(pids)}
    parts = []
    for chunk in column.chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_encode()
        mapping = np.array([pos.get(x, -1) for x in chunk.dictionary.to_pylist()], np.int64)
        if (mapping < 0).any():
            bad = [x for x, m in zip(chunk.dictionary.to_pylist(), mapping, strict=True) if m < 0][:5]
            raise DataError(f"{where}: rows of problems not in the problem table, e.g. {bad}")
        parts.append(mapping[chunk.indices.to_numpy(zero_copy_only=False)])
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _codes(column: pa.ChunkedArray) -> np.ndarray:
    """Integer codes of answer keys, the same code for the same key across chunks, -1 for null."""
    column = column.unify_dictionaries() if pa.types.is_dictionary(column.type) else \
        pc.dictionary_encode(column).unify_dictionaries()
    return np.concatenate([c.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
                           for c in column.chunks]) if column.num_chunks else np.zeros(0, np.int64)


def load_run(samples_path: str | Path, problems_path: str | Path, first: int | None = None) -> RunData:
    """Read one run's aggregated tables into dense matrices (scores lazily).

    `first`: only the samples with index below it, which every problem must have (the first round
    of an adaptive run, whose problems then have different sample counts)."""
    samples_path, problems_path = Path(samples_path), Path(problems_path)
    for p in (samples_path, problems_path):
        if not p.exists():
            raise DataError(f"{p}: file does not exist")
    pcols = ["model", "dataset", "sampling", "problem_id", "level", "n"]
    search_cols = ["search_prompt_tokens", "search_completion_tokens"]
    has_search = set(search_cols) <= set(pq.read_schema(problems_path).names)
    probs = pq.read_table(problems_path, columns=pcols + (search_cols if has_search else []))
    search_tokens = None
    if has_search and probs["search_completion_tokens"].null_count < probs.num_rows:
        search_tokens = sum(np.asarray(probs[c].fill_null(0).to_numpy(zero_copy_only=False), np.float64)
                            for c in search_cols)
    schema = pq.read_schema(samples_path)
    meta = json.loads((schema.metadata or {}).get(b"ttscale", b"{}"))
    names = score_names(schema.names, list(meta.get("scorers", [])))
    base = ["problem_id", "sample_index", "correct", "answer_key", "prompt_tokens", "completion_tokens",
            "cumulative_logprob"]
    missing = [c for c in base if c not in schema.names]
    if missing:
        raise DataError(f"{samples_path}: missing columns {missing}")
    pids = probs["problem_id"].to_pylist()
    P = len(pids)
    if P == 0:
        raise DataError(f"{problems_path}: no problems to analyze")
    ns = np.asarray(probs["n"].to_numpy(), np.int64)
    if first is not None:
        if ns.min() < first:
            short = [pids[i] for i in np.flatnonzero(ns < first)[:5]]
            raise DataError(f"{problems_path}: problems with fewer than the first round's {first} samples, e.g. "
                            f"{short}")
        ns = np.full(P, int(first), np.int64)
    if ns.min() != ns.max():
        few = [pids[i] for i in np.flatnonzero(ns < ns.max())[:5]]
        raise DataError(f"{problems_path}: problems have different sample counts ({ns.min()}..{ns.max()}), "
                        f"e.g. {few}; analysis needs the same n for every problem (exclude the short ones)")
    n = int(ns[0])
    t = pq.read_table(samples_path, columns=base, read_dictionary=["problem_id", "answer_key"])
    kept = None
    row_ids, col = t["problem_id"], t["sample_index"].to_numpy().astype(np.int64)
    if first is not None:  # every column then goes through the layout's row mask
        kept = col < int(first)
        row_ids, col = row_ids.filter(pa.array(kept)), col[kept]
    row = _rows_of(row_ids, pids, samples_path)
    if len(col) != P * n or col.min() < 0 or col.max() >= n:
        raise DataError(f"{samples_path}: {len(col)} rows with sample_index {col.min()}..{col.max()}, "
                        f"expected {P} problems x {n} samples")
    cell = row * n + col
    filled = np.bincount(cell, minlength=P * n)
    if filled.max() != 1:
        bad = int(np.flatnonzero(filled != 1)[0])
        raise DataError(f"{samples_path}: problem {pids[bad // n]!r} sample {bad % n} appears "
                        f"{int(filled[bad])} times")

    layout = Layout(cell, (P, n), kept)
    dense = layout.dense

    correct = dense(t["correct"].fill_null(False).to_numpy(zero_copy_only=False), bool)
    labels, sizes, corr = group_labels(dense(_codes(t["answer_key"]), np.int64), correct)
    correct_ext = has_ext = None
    if "correct_extended" in schema.names:
        ext = pq.read_table(samples_path, columns=["correct_extended"])["correct_extended"]
        if ext.null_count < len(ext):
            known = dense(ext.is_valid().to_numpy(zero_copy_only=False), bool)
            value = dense(ext.fill_null(False).to_numpy(zero_copy_only=False), bool)
            correct_ext = np.where(known, value, correct)
            has_ext = known.any(axis=1)
    # unknown token counts (an import without --tokenizer) stay NaN: 0 would claim free samples
    ptoks = dense(t["prompt_tokens"].cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64)
    ctoks = dense(t["completion_tokens"].cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64)
    logp = t["cumulative_logprob"]
    has_logp = logp.null_count < len(logp)
    logp_mat = dense(logp.to_numpy(zero_copy_only=False).astype(np.float64), np.float64) if has_logp else None
    del t
    stats = pq.ParquetFile(samples_path).metadata
    unscored = _empty_columns(stats, set(names.values()))
    names = {k: v for k, v in names.items() if v not in unscored}  # e.g. step columns of an outcome scorer
    derived: dict[str, Callable[[], np.ndarray]] = {}
    if has_logp:  # the free baselines, unless a scorer of that name is configured
        if "logprob" not in names:
            derived["logprob"] = lambda: logp_mat
        if "mean_logprob" not in names:
            derived["mean_logprob"] = lambda: logp_mat / np.fmax(ctoks, 1.0)  # unknown length: as 1 token
    scores = Scores(samples_path, names, layout, derived=derived)
    return RunData(
        model=str(probs["model"][0]), dataset=str(probs["dataset"][0]), sampling=str(probs["sampling"][0]),
        problem_ids=pids, levels=probs["level"].to_pylist(), correct=correct, labels=labels,
        group_sizes=sizes, group_corr=corr, prompt_tokens=ptoks, completion_tokens=ctoks, scores=scores,
        unscored=frozenset(unscored), search_tokens=search_tokens, correct_extended=correct_ext, extended=has_ext,
    )


def _empty_columns(meta: pq.FileMetaData, columns: set[str]) -> set[str]:
    """Columns whose every value is null, from the row-group statistics (no data read)."""
    nulls: dict[str, int] = {}
    for rg in range(meta.num_row_groups):
        group = meta.row_group(rg)
        for i in range(group.num_columns):
            c = group.column(i)
            name = c.path_in_schema
            if name in columns:
                st = c.statistics
                nulls[name] = nulls.get(name, 0) + (st.null_count if st is not None and st.has_null_count else -10**12)
    return {c for c in columns if nulls.get(c, -1) == meta.num_rows}


def selector_names(data: RunData, include: list[str], exclude: list[str] = ()) -> list[str]:
    """Selectors available for this run, filtered by the config's fnmatch patterns.

    What each kind needs is in ttscale.analysis.selectors.SELECTORS: vote needs answer keys;
    best:<score> exists for every score; wvote:<score> for every score but the log-probability
    baselines (negative, so not usable as vote weights).
    """
    names = available(data.scores, voting=bool((data.labels >= 0).any()))

    def match(name: str, patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in patterns)

    return [n for n in names if match(n, include) and not match(n, list(exclude))]
