"""Power for a selector's accuracy@k (majority vote, best-of-k by a score) between two runs.

Why: coverage follows from per-problem success rates, so the parametric world of
`ttscale.analysis.power` can draw it; a selector's accuracy also depends on the answers' agreement
and the scores, which no fitted Beta describes. The power of a selector comparison is therefore
estimated nonparametrically only: a simulated experiment resamples P of the pilot's problems with
replacement and, for each run, draws n of each problem's N pilot samples without replacement, then
computes the selector's exact accuracy@k estimate (best-of-k: `estimators.best_of_k`; vote:
`estimators.vote_exact`) on those n samples. Both estimators average a function of a uniformly
random k-subset of the n samples, i.e. they are U-statistics, so an n-subset of N pilot samples
gives them the variance they have with n fresh samples (the argument of the coverage case). The
per-problem differences are shifted by the stated minus the pilot's difference. A search strategy
against best-of-N at budget N: one side is a search run (sampling key `<strategy>.n<N>-<hash>`),
whose N answers per problem come from one search, so its per-problem value (the selector over its N
answers) is resampled with its problem and never subsampled; k is N. The test is the
paired (one dataset) or two-sample z test of `z_reject` (shared with the coverage comparisons of
`ttscale.analysis.power`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
from scipy.stats import norm

from ttscale.analysis.estimators import best_of_k, group_labels, vote_exact
from ttscale.analysis.selectors import kind, score_of
from ttscale.errors import ConfigError, DataError
from ttscale.io import read_table
from ttscale.keys import label_key

SUPPORTED = ("best", "vote")


@dataclass
class SelectorPilot:
    """Dense pilot samples of one run: P problems x N samples (the first N of every problem)."""

    problem_id: np.ndarray
    correct: np.ndarray  # P x N bool
    keys: np.ndarray  # P x N int answer-key codes, -1 = no answer
    scores: np.ndarray | None  # P x N, NaN = unscored (best-of-k only)
    # a search run's budget (label `<strategy>.n<N>-<hash>`): its N answers per problem are one search, not N
    # independent samples, so a simulated experiment resamples its problems but never its answers
    search: bool = False


def read_selector_pilot(exp: str | Path, model: str, dataset: str, sampling: str, selector: str) -> SelectorPilot:
    """The samples, verdicts and (for best-of-k) scores of a pilot run, as dense matrices.

    Every sample shard with its verdict shard (and score shard) counts; problems keep their first N
    samples, N the fewest any problem has (an unfinished pilot's problems may differ)."""
    sel = kind(selector)
    if sel not in SUPPORTED:
        raise ConfigError(f"power: selector {selector!r}: only best-of-k (best:<score>) and majority vote "
                          f"(vote) have a power analysis")
    score = score_of(selector)
    exp = Path(exp)
    # a folder of that name is a run of its own (a preset may be spelled like a budget's label)
    given = exp / "samples" / f"model={model}" / f"dataset={dataset}" / f"sampling={sampling}"
    # else a search run's budget: its label `<strategy>.n<N>-<hash>`, whose answers are those with
    # `budget` N in the run's folder `<strategy>-<hash>`
    search = label_key(sampling) if not given.is_dir() else None
    folder, budget = search or (sampling, None)
    rel = Path(f"model={model}") / f"dataset={dataset}" / f"sampling={folder}"
    pid, idx, cor, key, sc = [], [], [], [], []
    for shard in sorted((exp / "samples" / rel).glob("*.parquet")):
        vshard = exp / "verdicts" / rel / shard.name
        if not vshard.exists():
            continue
        cols = ["problem_id", "sample_index"] + (["cumulative_logprob", "completion_tokens"]
                                                 if score in ("logprob", "mean_logprob") else [])
        s = read_table(shard, columns=cols + (["budget"] if search else []))
        v = read_table(vshard, columns=["problem_id", "sample_index", "correct", "answer_key"])
        if s["problem_id"] != v["problem_id"] or s["sample_index"] != v["sample_index"]:
            raise DataError(f"{vshard}: its rows do not match the sample shard {shard} row for row")
        mask = None
        if search:  # the budget's answers, their indices from 0
            mask = pc.equal(s["budget"], budget)
            s, v = s.filter(mask).drop_columns(["budget"]), v.filter(mask)
            if not s.num_rows:
                continue
            first = pc.min(s["sample_index"])
            s = s.set_column(1, "sample_index", pc.subtract(s["sample_index"], first))
        if sel == "best":
            if score in ("logprob", "mean_logprob"):
                lp = pc.cast(s["cumulative_logprob"], "float64").to_numpy(zero_copy_only=False)
                if score == "mean_logprob":
                    lp = lp / np.fmax(pc.cast(s["completion_tokens"], "float64").to_numpy(zero_copy_only=False), 1)
                sc.append(lp)
            else:
                sshard = exp / "scores" / f"scorer={score}" / rel / shard.name
                if not sshard.exists():
                    continue
                t = read_table(sshard, columns=["problem_id", "sample_index", "score"])
                if mask is not None:
                    t = t.filter(mask)
                    t = t.set_column(1, "sample_index", pc.subtract(t["sample_index"], first))
                if t["problem_id"] != s["problem_id"] or t["sample_index"] != s["sample_index"]:
                    raise DataError(f"{sshard}: its rows do not match the sample shard {shard} row for row")
                sc.append(pc.cast(t["score"], "float64").to_numpy(zero_copy_only=False))
        pid.append(s["problem_id"].to_numpy(zero_copy_only=False).astype(str))
        idx.append(s["sample_index"].to_numpy().astype(np.int64))
        cor.append(v["correct"].to_numpy(zero_copy_only=False).astype(bool))
        key.append(v["answer_key"].to_numpy(zero_copy_only=False))
    if not pid:
        raise DataError(f"{exp / 'verdicts' / rel}: no verified pilot shards"
                        + (f" with scores of {score}" if sel == "best" and score not in ("logprob", "mean_logprob")
                           else ""))
    ids = np.concatenate(pid)
    uid, row = np.unique(ids, return_inverse=True)
    col = np.concatenate(idx)
    counts = np.bincount(row, minlength=len(uid))
    N = int(counts.min())
    keep = col < N
    if np.bincount(row[keep], minlength=len(uid)).min() < N:
        raise DataError(f"{exp / 'samples' / rel}: problems lack some of the sample indices 0..{N - 1}")
    cell = row[keep] * N + col[keep]

    def dense(x: np.ndarray, dtype: type) -> np.ndarray:
        out = np.empty(len(uid) * N, dtype)
        out[cell] = x[keep]
        return out.reshape(len(uid), N)

    allkeys = np.concatenate(key)
    known = np.array([k is not None for k in allkeys])
    codes = np.full(len(allkeys), -1, np.int64)
    if known.any():
        codes[known] = np.unique(allkeys[known].astype(str), return_inverse=True)[1]
    return SelectorPilot(uid, dense(np.concatenate(cor), bool), dense(codes, np.int64),
                         dense(np.concatenate(sc), np.float64) if sel == "best" else None,
                         search=bool(search))


def z_reject(va: np.ndarray, vb: np.ndarray, paired: bool, alpha: float, offset: float = 0.0) -> float:
    """Two-sided z test of coverage(b) - coverage(a) = 0 on each simulated experiment (rows)."""
    problems = va.shape[1]
    if paired:
        d = vb - va + offset
        se = d.std(axis=1, ddof=1) / np.sqrt(problems)
        mean = d.mean(axis=1)
    else:
        mean = vb.mean(axis=1) - va.mean(axis=1) + offset
        se = np.sqrt((va.var(axis=1, ddof=1) + vb.var(axis=1, ddof=1)) / problems)
    zcrit = norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        reject = np.where(se > 0, np.abs(mean) / se > zcrit, mean != 0)
    return float(reject.mean())


def selector_accuracy(selector: str, correct: np.ndarray, keys: np.ndarray, scores: np.ndarray | None,
                      k: int) -> np.ndarray:
    """Per-problem exact accuracy@k estimate of the selector from each row's samples."""
    if kind(selector) == "best":
        return best_of_k(scores, correct, np.array([k]))[:, 0]
    _, sizes, corr = group_labels(keys, correct)
    n = correct.shape[1]
    return np.array([vote_exact(sizes[i], corr[i], n, np.array([k]))[0] for i in range(len(correct))])


def _subsets(rng: np.random.Generator, rows: np.ndarray, N: int, n: int) -> np.ndarray:
    """For each row index, n distinct sample columns of N (uniformly random), shape rows.shape + (n,)."""
    return np.argsort(rng.random((*rows.shape, N)), axis=-1)[..., :n]


def observed(selector: str, a: SelectorPilot, b: SelectorPilot, k: int, paired: bool) -> float:
    va, vb = (selector_accuracy(selector, x.correct, x.keys, x.scores, x.correct.shape[1] if x.search else k)
              for x in (a, b))
    if paired:
        _, ia, ib = np.intersect1d(a.problem_id, b.problem_id, return_indices=True)
        return float(np.mean(vb[ib] - va[ia]))
    return float(vb.mean() - va.mean())


def power_selector(selector: str, a: SelectorPilot, b: SelectorPilot, paired: bool, difference: float,
                   problems: int, samples: int, k: int, alpha: float, simulations: int,
                   rng: np.random.Generator) -> float:
    """Rejection rate of simulated experiments resampled from the pilots; NaN when n exceeds the
    pilot's samples per problem."""
    if paired:
        _, ia, ib = np.intersect1d(a.problem_id, b.problem_id, return_indices=True)
        if len(ia) < 2:
            raise DataError("power: the two runs share fewer than 2 pilot problems")
    else:
        ia, ib = np.arange(len(a.problem_id)), np.arange(len(b.problem_id))
    sampled = [x.correct.shape[1] for x in (a, b) if not x.search]
    if (sampled and samples > min(sampled)) or k > samples:
        return float("nan")
    offset = difference - observed(selector, a, b, k, paired)
    ja = rng.integers(0, len(ia), (simulations, problems))
    jb = ja if paired else rng.integers(0, len(ib), (simulations, problems))

    def values(x: SelectorPilot, rows: np.ndarray) -> np.ndarray:
        if x.search:  # the search's own value over its N answers, per resampled problem
            return selector_accuracy(selector, x.correct, x.keys, x.scores, x.correct.shape[1])[rows]
        cols = _subsets(rng, rows, x.correct.shape[1], samples)
        r = rows[..., None]
        flat = lambda m: m[r, cols].reshape(-1, samples)  # noqa: E731
        v = selector_accuracy(selector, flat(x.correct), flat(x.keys), None if x.scores is None else flat(x.scores),
                              k)
        return v.reshape(rows.shape)

    return z_reject(values(a, ia[ja]), values(b, ib[jb]), paired, alpha, offset)
