"""Synthetic sample, verdict and score shards with known structure, for tests and benchmarks.

Each problem gets a true solve rate p ~ Beta(alpha, beta); a sample is correct with chance p; wrong
samples vote for one of `n_wrong` wrong answers (Zipf-weighted) or give no answer; scores are noisy
signals of correctness, rounded so that ties occur. Shards follow the planner's block grid and the
schemas of ttscale.schemas, so the real aggregation reads them as it reads generated ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from ttscale.blocks import Block, plan_blocks
from ttscale.io import write_table
from ttscale.schemas import PROBLEMS, SAMPLES, SCORES, VERDICTS


@dataclass
class SyntheticSpec:
    n_problems: int = 20
    samples: int = 64
    block_size: int = 32
    problems_per_block: int = 500
    alpha: float = 0.4
    beta: float = 1.2
    n_wrong: int = 20
    no_answer: float = 0.05
    scorers: tuple[str, ...] = ("orm", "prm")  # the last one, if named prm*, gets step aggregations
    seed: int = 0
    model: str = "synth"
    dataset: str = "synthmath"
    sampling: str = "default-00000000"
    levels: tuple[str, ...] = ("1", "2", "3")
    true_p: np.ndarray | None = field(default=None, repr=False)


def problem_ids(spec: SyntheticSpec) -> list[str]:
    return [f"{spec.dataset}/{i}" for i in range(spec.n_problems)]


def true_rates(spec: SyntheticSpec) -> np.ndarray:
    if spec.true_p is not None:
        return np.asarray(spec.true_p, dtype=np.float64)
    rng = np.random.default_rng([spec.seed, 1])
    return rng.beta(spec.alpha, spec.beta, spec.n_problems)


def problems_table(spec: SyntheticSpec) -> pa.Table:
    ids = problem_ids(spec)
    n = len(ids)
    levels = [spec.levels[i % len(spec.levels)] for i in range(n)] if spec.levels else [None] * n
    return pa.table(
        {
            "problem_id": ids,
            "position": pa.array(range(n), pa.int32()),
            "dataset": [spec.dataset] * n,
            "task": ["math"] * n,
            "question": [f"question {i}" for i in range(n)],
            "prompt_mode": ["chat"] * n,
            "messages": ["[]"] * n,
            "completion_prompt": [""] * n,
            "assistant_prefix": [""] * n,
            "stop": pa.array([[] for _ in range(n)], pa.list_(pa.string())),
            "answer": [str(i) for i in range(n)],
            "tests": pa.nulls(n, pa.string()),
            "test_style": pa.nulls(n, pa.string()),
            "entry_point": pa.nulls(n, pa.string()),
            "solution": pa.nulls(n, pa.string()),
            "level": levels,
            "metadata": ["{}"] * n,
        },
        schema=PROBLEMS,
    )


def _strings(codes: np.ndarray, vocab: list[str], null_code: int | None = None) -> pa.Array:
    """A string array from integer codes into `vocab`, built as a dictionary array (fast)."""
    mask = (codes == null_code) if null_code is not None else None
    indices = pa.array(np.where(mask, 0, codes).astype(np.int32) if mask is not None else codes.astype(np.int32),
                       mask=mask)
    return pa.DictionaryArray.from_arrays(indices, pa.array(vocab, pa.string())).cast(pa.string())


def block_tables(spec: SyntheticSpec, block: Block, rates: np.ndarray) -> dict[str, pa.Table]:
    """The sample, verdict and score tables of one block (deterministic in spec.seed and the block)."""
    rng = np.random.default_rng([spec.seed, 2, block.p0, block.s0])
    pos = np.repeat(np.arange(block.p0, block.p1), block.n_samples)
    sidx = np.tile(np.arange(block.s0, block.s1, dtype=np.int32), block.n_problems)
    rows = len(pos)
    p = rates[pos]
    correct = rng.random(rows) < p
    # Answer codes: 0 is the right answer, 1..n_wrong wrong ones (Zipf-weighted), -1 no answer.
    weights = 1.0 / np.arange(1, spec.n_wrong + 1) ** 1.2
    wrong = rng.choice(np.arange(1, spec.n_wrong + 1), size=rows, p=weights / weights.sum())
    none = rng.random(rows) < spec.no_answer
    code = np.where(correct, 0, np.where(none, -1, wrong))
    keys = _strings(code, [f"ans{i}" for i in range(spec.n_wrong + 1)], null_code=-1)
    status = np.where(correct, 0, np.where(code < 0, 2, 1))
    pids = _strings(pos, problem_ids(spec))
    comp = rng.poisson(120, rows).astype(np.int32) + 1
    prompt_tok = (50 + (pos * 7) % 90).astype(np.int32)
    logprob = -comp * rng.uniform(0.05, 0.6, rows) + 3.0 * correct
    empty = _strings(np.zeros(rows, np.int32), [""])
    samples = pa.table(
        {
            "problem_id": pids,
            "sample_index": sidx,
            "seed": pa.array(rng.integers(0, 2**62, rows), pa.int64()),
            "prompt": empty,
            "text": empty,
            "finish_reason": _strings(np.zeros(rows, np.int32), ["stop"]),
            "prompt_tokens": prompt_tok,
            "completion_tokens": comp,
            "cumulative_logprob": logprob,
            "latency_s": pa.nulls(rows, pa.float64()),
        },
        schema=SAMPLES,
    )
    verdicts = pa.table(
        {
            "problem_id": pids,
            "sample_index": sidx,
            "extracted_answer": keys,
            "answer_key": keys,
            "correct": correct,
            "status": _strings(status, ["passed", "failed", "no_answer"]),
            "tests_passed": correct.astype(np.int32),
            "tests_total": np.ones(rows, np.int32),
            "duration_s": np.zeros(rows),
            "output_tail": empty,
            "correct_extended": pa.nulls(rows, pa.bool_()),
        },
        schema=VERDICTS,
    )
    out = {"samples": samples, "verdicts": verdicts}
    for j, scorer in enumerate(spec.scorers):
        signal = (1.0 + 0.5 * j) * (2.0 * correct - 1.0) + rng.normal(0.0, 1.0, rows)
        score = np.round(1.0 / (1.0 + np.exp(-signal)), 2)  # two decimals: plenty of ties
        process = scorer.startswith("prm")
        steps = {}
        for agg, shift in (("last", 0.0), ("min", -0.1), ("prod", -0.3), ("mean", 0.05)):
            val = np.clip(score + shift + rng.normal(0, 0.05, rows), 0.0, 1.0) if process else None
            steps[f"score_{agg}"] = pa.array(np.round(val, 3)) if process else pa.nulls(rows, pa.float64())
        out[f"scores/{scorer}"] = pa.table(
            {
                "problem_id": pids,
                "sample_index": sidx,
                "score": score,
                "status": _strings(np.zeros(rows, np.int32), ["ok"]),
                "step_scores": pa.nulls(rows, pa.list_(pa.float64())),
                "step_ends": pa.nulls(rows, pa.list_(pa.int32())),
                **steps,
            },
            schema=SCORES,
        )
    return out


def write_run(root: str | Path, spec: SyntheticSpec) -> dict[str, object]:
    """Write problems and all shards of one synthetic run under `root` (the experiment directory).

    Returns the file lists the planner would give: samples, verdicts, scores[scorer], problems.
    """
    root = Path(root)
    part = f"model={spec.model}/dataset={spec.dataset}/sampling={spec.sampling}"
    rates = true_rates(spec)
    problems = root / "problems" / f"{spec.dataset}.parquet"
    write_table(problems, problems_table(spec), PROBLEMS)
    files: dict[str, object] = {"problems": str(problems), "samples": [], "verdicts": [],
                                "scores": {s: [] for s in spec.scorers}}
    for block in plan_blocks(spec.n_problems, spec.samples, spec.block_size, spec.problems_per_block):
        tables = block_tables(spec, block, rates)
        for stage, table in tables.items():
            if stage.startswith("scores/"):
                scorer = stage.split("/", 1)[1]
                path = root / "scores" / f"scorer={scorer}" / part / f"{block.name}.parquet"
                files["scores"][scorer].append(str(path))  # type: ignore[index]
            else:
                path = root / stage / part / f"{block.name}.parquet"
                files[stage].append(str(path))  # type: ignore[union-attr]
            write_table(path, table)
    return files
