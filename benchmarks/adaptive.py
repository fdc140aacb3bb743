"""Adaptive allocation against uniform allocation: samples needed for the same 95 % interval of coverage@K.

Baseline: uniform allocation, every problem gets K samples (K: the largest k). Ours: the adaptive
rounds of ttscale.analysis.adaptive with the default rule (`band`, tolerance 0.1, rounds doubling
from `--first`), and the simpler `successes` rule (s = 1) for reference. Both sides are simulated
from the same per-problem success rates, `--runs` simulated experiments each; each experiment's
95 % percentile bootstrap interval of coverage@K over problems (1,000 resamples, as the analysis
does) gives its width. Reported: mean samples drawn and mean interval width at K per side.

Rates: a synthetic paper-scale set (500 problems, rates ~ Beta(0.25, 2.5), a heavy tail of hard
problems as in Brown et al.'s coverage curves; K = 10,000) and the per-problem pass@1 of real runs
(`--problems`: the aggregate stage's problems.parquet of a uniform run, e.g. the default's; K = the
run's samples per problem).

    .venv/bin/python benchmarks/adaptive.py [--problems R/aggregate/.../problems.parquet ...] [--runs 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from ttscale.analysis.adaptive import coverage_values, schedule, simulate
from ttscale.analysis.stats import interval, resample_counts

RULES = {"band": {"rule": "band", "tolerance": 0.1}, "successes": {"rule": "successes", "successes": 1}}


def widths(values: np.ndarray, rng: np.random.Generator, boot: int = 1000) -> np.ndarray:
    """95 % percentile bootstrap width of the mean over problems, per simulated run (rows)."""
    out = np.empty(values.shape[0])
    for i, v in enumerate(values):
        reps = resample_counts(len(v), boot, rng) @ v / len(v)
        lo, hi = interval(reps, 0.95)
        out[i] = hi - lo
    return out


def compare(name: str, p: np.ndarray, target: int, first: int, runs: int, seed: int, headline: bool = False) -> None:
    rng = np.random.default_rng(seed)
    P = len(p)
    t0 = time.perf_counter()
    uniform = (rng.binomial(target, np.broadcast_to(p, (runs, P))) > 0).astype(np.float64)  # pass@K at n = K
    w_uni = widths(uniform, rng)
    base_samples = P * target
    ends = schedule(first, 2.0, target)
    print(f"# {name}: {P} problems, K = {target}, rounds ending at {ends.tolist()}, {runs} simulated runs "
          f"per side, true coverage@K {np.mean(1 - (1 - p) ** target):.4f}")
    for rule, settings in RULES.items():
        rounds, succ = simulate(p, ends, settings, runs, rng)
        ours = coverage_values(ends, rounds, succ, np.array([target]))[..., 0]
        if np.isnan(ours).any():
            raise SystemExit(f"{name}: coverage@{target} not estimable under {rule}")
        w = widths(ours, rng)
        samples = float(ends[rounds - 1].sum(axis=1).mean())
        tag = f"{name}" if rule == "band" else f"{name}_{rule}"
        print(f"#   {rule}: coverage@K mean {ours.mean(axis=1).mean():.4f} vs uniform "
              f"{uniform.mean(axis=1).mean():.4f}; width {w.mean():.4f} vs {w_uni.mean():.4f}")
        print(f"RESULT adaptive_samples_{tag} ours={samples:.0f} samples baseline={base_samples} samples "
              f"ratio={samples / base_samples:.3f}")
        if headline:  # the figure: the default rule on the paper-scale set
            print(f"RESULT adaptive_samples ours={samples:.0f} samples baseline={base_samples} samples "
                  f"ratio={samples / base_samples:.3f}")
            headline = False
        print(f"RESULT adaptive_ci_width_{tag} ours={w.mean():.4f} coverage baseline={w_uni.mean():.4f} coverage "
              f"ratio={w.mean() / w_uni.mean():.3f}")
    print(f"#   {time.perf_counter() - t0:.1f} s")


def rates_of(path: Path) -> tuple[np.ndarray, int]:
    t = pq.read_table(path, columns=["n", "n_correct"]).to_pydict()
    n, c = np.array(t["n"]), np.array(t["n_correct"])
    if len(set(n.tolist())) != 1:
        raise SystemExit(f"{path}: problems have different sample counts; a uniform run is needed")
    return c / n, int(n[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", nargs="*", default=[], help="aggregate problems.parquet files of real uniform runs")
    ap.add_argument("--runs", type=int, default=200, help="simulated experiments per side")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    p = np.random.default_rng(args.seed).beta(0.25, 2.5, 500)
    compare("paper500", p, 10_000, 32, args.runs, args.seed, headline=True)
    for path in map(Path, args.problems):
        rates, n = rates_of(path)
        name = "_".join(part.split("=", 1)[1] for part in path.parent.parts[-3:-1])
        compare(name, rates, n, 4, args.runs, args.seed)


if __name__ == "__main__":
    main()
