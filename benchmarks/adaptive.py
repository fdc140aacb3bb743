"""Adaptive allocation against uniform allocation: samples needed for the same 95 % interval of coverage@K.

Baseline: uniform allocation, every problem gets K samples (K: the largest k). Ours: the adaptive
rounds of ttscale.analysis.adaptive with the default rule (`band`, tolerance 0.1, rounds doubling
from `--first`), and the simpler `successes` rule (s = 1), the rule aimed at coverage@K alone. Both
sides are simulated from the same per-problem success rates with common random numbers: each
simulated experiment draws every round's successes once (ttscale.analysis.adaptive.round_draws);
the uniform run sees all of them, the adaptive run the rounds its rule allocates. Each experiment's
95 % percentile bootstrap interval of coverage@K over problems (1,000 resamples, as the analysis
does, the same resamples on both sides) gives its width. Reported: mean samples drawn and mean
interval width at K per side, and the floor: the expected samples of the cheapest design whose
coverage@K estimate is unbiased at all (ttscale.analysis.adaptive.floor_samples), which no rule can
go below.

At K, a rule that stops a problem only after a success gives exactly the uniform run's estimate
(1 if the problem was solved, from the same draws), so the widths agree run by run; the rules differ
in what they spend and in the band at smaller k. Independent draws per side (as this benchmark did
before) leave the widths to differ by simulation noise alone, up to 17 % on 10 problems.

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

from ttscale.analysis.adaptive import coverage_values, floor_samples, round_draws, schedule, simulate
from ttscale.analysis.stats import interval, resample_counts

RULES = {"band": {"rule": "band", "tolerance": 0.1}, "successes": {"rule": "successes", "successes": 1}}


def widths(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """95 % percentile bootstrap width of the mean over problems, per simulated run (rows), from the
    given resample counts (the same for both sides, so equal values give equal widths)."""
    out = np.empty(values.shape[0])
    for i, v in enumerate(values):
        lo, hi = interval(counts @ v / len(v), 0.95)
        out[i] = hi - lo
    return out


def compare(name: str, p: np.ndarray, target: int, first: int, runs: int, seed: int, headline: bool = False) -> None:
    rng = np.random.default_rng(seed)
    P = len(p)
    t0 = time.perf_counter()
    ends = schedule(first, 2.0, target)
    draws = round_draws(p, ends, runs, rng)  # every round's successes, as if no problem stopped
    uniform = (draws.sum(axis=-1) > 0).astype(np.float64)  # pass@K of the uniform run at n = K
    counts = resample_counts(P, 1000, rng)
    w_uni = widths(uniform, counts)
    base_samples = P * target
    floor = floor_samples(p, target)
    print(f"# {name}: {P} problems, K = {target}, rounds ending at {ends.tolist()}, {runs} simulated runs "
          f"(common random numbers), true coverage@K {np.mean(1 - (1 - p) ** target):.4f}")
    for rule, settings in RULES.items():
        rounds, succ = simulate(p, ends, settings, runs, rng, draws=draws)
        ours = coverage_values(ends, rounds, succ, np.array([target]))[..., 0]
        if np.isnan(ours).any():
            raise SystemExit(f"{name}: coverage@{target} not estimable under {rule}")
        w = widths(ours, counts)
        samples = float(ends[rounds - 1].sum(axis=1).mean())
        tag = f"{name}" if rule == "band" else f"{name}_{rule}"
        same = int((np.abs(ours - uniform) < 1e-9).all(axis=1).sum())
        print(f"#   {rule}: coverage@K mean {ours.mean(axis=1).mean():.4f} vs uniform "
              f"{uniform.mean(axis=1).mean():.4f}; width {w.mean():.4f} vs {w_uni.mean():.4f}; "
              f"the same estimate at K as the uniform run in {same}/{runs} runs")
        print(f"RESULT adaptive_samples_{tag} ours={samples:.0f} samples baseline={base_samples} samples "
              f"ratio={samples / base_samples:.3f}")
        if headline:  # the figure: the default rule on the paper-scale set
            print(f"RESULT adaptive_samples ours={samples:.0f} samples baseline={base_samples} samples "
                  f"ratio={samples / base_samples:.3f}")
            headline = False
        print(f"RESULT adaptive_ci_width_{tag} ours={w.mean():.4f} coverage baseline={w_uni.mean():.4f} coverage "
              f"ratio={w.mean() / w_uni.mean():.3f}")
    print(f"RESULT adaptive_floor_{name} ours={floor:.0f} samples baseline={base_samples} samples "
          f"ratio={floor / base_samples:.3f}")
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
