"""Adaptive rounds in the workflow: the blocks of each round and the decision that starts the next.

Why: the allocation rules of `ttscale.analysis.adaptive` decide from verified counts, so a run in
adaptive mode (`datasets.<d>.adaptive`) cannot be planned up front. Round 0 is planned like any run
(every problem, sample indices [0, e_1)). After round r - 1 is verified, a decision file
`R/adaptive/<run>/round<r>.json` (the Snakemake checkpoint `adaptive_round` writes it through
`decide`) lists the problems that get round r, i.e. sample indices [e_{r-1}, e_r). Round r's blocks
cover the positions of those problems on the usual problem grid, and each block's generate job reads
its problem subset from that file, as a dataset with `ids` reads its block's ids file: the file is the
block's identity, so reruns reuse every finished round and a killed round resumes where it stopped.

Everything here is a pure function of the config section, the counts and the files named, so it is
unit-testable without Snakemake (workflow/rules/adaptive.smk only adapts it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from ttscale.analysis.adaptive import ALLOCATORS, check_settings, next_round, schedule
from ttscale.blocks import Block, _ranges
from ttscale.errors import ConfigError, DataError
from ttscale.io import write_json
from ttscale.keys import ADAPTIVE_DEFAULTS

DEFAULTS = ADAPTIVE_DEFAULTS


def settings_of(config: Mapping[str, Any], dataset: str) -> dict[str, Any] | None:
    """The dataset's adaptive section with its defaults, or None when the dataset samples uniformly."""
    raw = (config["datasets"][dataset] or {}).get("adaptive")
    if not raw:
        return None
    out = {**DEFAULTS, **raw}
    check_settings(out, f"datasets.{dataset}.adaptive")
    if out["rule"] not in ALLOCATORS:  # pragma: no cover - check_settings raises first
        raise ConfigError(f"datasets.{dataset}.adaptive.rule: unknown rule {out['rule']!r}")
    return out


def round_ends(settings: Mapping[str, Any], target: int) -> np.ndarray:
    """Cumulative samples per problem at the end of each round (the schedule up to `target`)."""
    return schedule(int(settings["first"]), float(settings["growth"]), int(target))


def round_starts(ends: np.ndarray) -> list[int]:
    return [0, *[int(e) for e in ends[:-1]]]


def round_of(ends: np.ndarray, block: Block) -> int:
    """The round a block's sample range lies in (a block never straddles two rounds)."""
    starts = round_starts(ends)
    for r, (s0, s1) in enumerate(zip(starts, ends, strict=True)):
        if s0 <= block.s0 and block.s1 <= s1:
            return r
    raise DataError(f"block {block.name}: its samples {block.s0}..{block.s1 - 1} lie in no round of the adaptive "
                    f"schedule {ends.tolist()}; the config changed since it was planned")


def round_blocks(ends: np.ndarray, r: int, n_problems: int, block_size: int, problems_per_block: int,
                 positions: Sequence[int] | None = None) -> list[Block]:
    """Round r's blocks: its sample range split by `block_size`, on the problem grid of
    `problems_per_block`, keeping the problem blocks that hold a selected position (all for None)."""
    s0, s1 = round_starts(ends)[r], int(ends[r])
    chosen = None if positions is None else set(int(p) for p in positions)
    out = []
    for p0, p1 in _ranges(n_problems, problems_per_block):
        if chosen is not None and not any(p0 <= p < p1 for p in chosen):
            continue
        for a, b in _ranges(s1 - s0, block_size):
            out.append(Block(p0, p1, s0 + a, s0 + b))
    return out


def decision_path(experiment_dir: str | Path, partition: str, r: int) -> str:
    """`R/adaptive/<model=..>/<dataset=..>/<sampling=..>/round<r>.json`: the problems of round r >= 1."""
    return str(Path(experiment_dir) / "adaptive" / partition / f"round{r:02d}.json")


def read_decision(path: str | Path) -> dict[str, Any]:
    try:
        out = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the adaptive round's decision: {exc}") from None
    for key in ("round", "selected", "positions"):
        if key not in out:
            raise DataError(f"{path}: the adaptive decision lacks {key!r}; delete it to decide the round again")
    return out


def block_subset(decision: str | Path, block: str) -> list[str]:
    """The problem ids a round's block generates: the decision's selected problems in its positions."""
    d = read_decision(decision)
    blk = Block.parse(block)
    ids = [pid for pid, pos in zip(d["selected"], d["positions"], strict=True) if blk.p0 <= pos < blk.p1]
    if not ids:
        raise DataError(f"{decision}: no selected problem lies in block {block}; the workflow plans only blocks "
                        f"that hold one")
    return ids


def _verified_counts(verdicts: Sequence[str | Path]) -> dict[str, list[int]]:
    """problem_id -> [samples, successes] over the verdict shards."""
    counts: dict[str, list[int]] = {}
    for path in verdicts:
        try:
            t = pq.read_table(path, columns=["problem_id", "correct"]).to_pydict()
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{path}: cannot read problem_id and correct from the verdict shard: {exc}") from None
        for pid, ok in zip(t["problem_id"], t["correct"], strict=True):
            c = counts.setdefault(pid, [0, 0])
            c[0] += 1
            c[1] += bool(ok)
    return counts


def decide(*, settings: Mapping[str, Any], target: int, r: int, problems: str | Path,
           verdicts: Sequence[str | Path], previous: str | Path | None, output: str | Path) -> dict[str, Any]:
    """Write the decision of round r (>= 1): which problems get samples [e_{r-1}, e_r).

    Reads the verdicts of rounds 0..r-1 and the decision of round r-1 (the problems still active),
    checks that every problem has exactly the samples its rounds planned, and applies the allocation
    rule. Deterministic: the same verdicts give the same file.
    """
    ends = round_ends(settings, target)
    if not 1 <= r < len(ends):
        raise DataError(f"{output}: round {r} is not a later round of the schedule {ends.tolist()}")
    ptab = pq.read_table(problems, columns=["problem_id", "position"]).to_pydict()
    order = np.argsort(ptab["position"], kind="stable")
    pids = [ptab["problem_id"][i] for i in order]
    pos = [int(ptab["position"][i]) for i in order]
    if previous is None:
        if r != 1:
            raise DataError(f"{output}: round {r} needs the decision of round {r - 1}")
        active = np.ones(len(pids), bool)
        rounds_got = {p: 1 for p in pids}
    else:
        prev = read_decision(previous)
        if int(prev["round"]) != r - 1:
            raise DataError(f"{previous}: holds round {prev['round']}, expected {r - 1}")
        chosen = set(prev["selected"])
        active = np.array([p in chosen for p in pids])
        rounds_got = {p: int(prev.get("rounds", {}).get(p, 1)) for p in pids}
    counts = _verified_counts(verdicts)
    n = np.zeros(len(pids), np.int64)
    c = np.zeros(len(pids), np.int64)
    errors = []
    for i, pid in enumerate(pids):
        got = rounds_got[pid]
        expected = int(ends[got - 1])
        have = counts.get(pid, [0, 0])
        if have[0] != expected:
            errors.append(f"{pid!r}: {have[0]} verdicts, its {got} round(s) planned {expected}")
        n[i], c[i] = have
    extra = sorted(set(counts) - set(pids))
    if extra:
        errors.append(f"verdicts of problems not in {problems}: {extra[:5]}")
    if errors:
        raise DataError(f"{output}: the verdicts of rounds 0..{r - 1} do not match the plan: " + "; ".join(errors[:5])
                        + (f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""))
    go = np.asarray(next_round(n, c, active, ends, r - 1, dict(settings)), bool) & active
    rounds = {pid: rounds_got[pid] + int(go[i]) for i, pid in enumerate(pids)}
    out = {
        "round": r, "samples": [int(ends[r - 1]), int(ends[r])], "ends": ends.tolist(),
        "settings": dict(sorted(settings.items())), "selected": [p for p, g in zip(pids, go, strict=True) if g],
        "positions": [q for q, g in zip(pos, go, strict=True) if g], "rounds": rounds,
        "n": {p: int(v) for p, v in zip(pids, n, strict=True)},
        "correct": {p: int(v) for p, v in zip(pids, c, strict=True)},
    }
    write_json(output, out)
    return {"round": r, "problems": len(pids), "selected": len(out["selected"]),
            "samples_so_far": int(n.sum())}


def planned_counts(ends: np.ndarray, problem_ids: Sequence[str], decisions: Sequence[Mapping[str, Any]]
                   ) -> dict[str, int]:
    """problem_id -> the samples its rounds plan, from the decisions of rounds 1.. in order."""
    rounds = {p: 1 for p in problem_ids}
    for d in decisions:
        for p in d["selected"]:
            rounds[p] += 1
    return {p: int(ends[r - 1]) for p, r in rounds.items()}


def round_successes(ends: np.ndarray, problem_ids: Sequence[str], sample_problem: Sequence[str],
                    sample_index: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rounds per problem (P,), successes per round (P, R)) from per-sample rows, checking that every
    problem holds exactly the samples of its first rounds (the design the estimators assume)."""
    idx = {p: i for i, p in enumerate(problem_ids)}
    P, R = len(problem_ids), len(ends)
    sample_index = np.asarray(sample_index, np.int64)
    row = np.array([idx[p] for p in sample_problem], np.int64)
    rnd = np.searchsorted(ends, sample_index, side="right")
    if (rnd >= R).any():
        raise DataError(f"sample index {int(sample_index.max())} lies beyond the adaptive schedule {ends.tolist()}")
    succ = np.zeros((P, R), np.int64)
    np.add.at(succ, (row, rnd), np.asarray(correct, bool).astype(np.int64))
    n = np.bincount(row, minlength=P)
    rounds = np.searchsorted(ends, n) + 1
    bad = [problem_ids[i] for i in range(P) if n[i] == 0 or n[i] not in set(ends.tolist())]
    if bad:
        raise DataError(f"problems whose sample counts end no round of the schedule {ends.tolist()}: {bad[:5]}")
    return rounds.astype(np.int64), succ
