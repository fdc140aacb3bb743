"""Aggregation and analysis of 10 million samples, against a straightforward pandas implementation.

Synthetic shards (1,000 problems x 10,000 samples on the planner's block grid, with verdicts and two
scorers, one of them a process scorer with step aggregations) are written once, untimed. Then, in
this one process:

- ours: `ttscale.aggregate.aggregate_run` (DuckDB, column projection, positional join, count checks)
  and `ttscale.analysis.run.analyze_run` (every curve for every k of the log grid with bootstrap
  intervals over problems and difficulty bins, plus fits, extrapolation and the compute-optimal table);
- baseline: pandas reads the shards, merges them on (problem_id, sample_index) and groups by
  problem; the curves loop over problems and ks with numpy: pass@k by Chen et al.'s product,
  best-of-k by per-problem ranks, the votes by Monte Carlo subsets (as many draws as ours), and a
  bootstrap over problems per curve.

Both sides compute the same quantities; the run prints how far they agree, the three figures side
by side, and the RESULT lines. Peak memory is each side's own peak resident set (VmHWM, reset between
the sides through /proc/self/clear_refs). Targets: aggregation < 15 s, curves < 10 s, peak < 4 GB.

    flock /tmp/ttscale-heavy.lock .venv/bin/python benchmarks/aggregation.py [--problems 1000 --samples 10000]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ttscale.aggregate import aggregate_run
from ttscale.analysis.run import analyze_run
from ttscale.analysis.settings import analysis_settings
from ttscale.analysis.stats import k_grid
from ttscale.testing.synthetic import SyntheticSpec, write_run

TABLES = ("values", "curves", "costs", "fits", "extrapolation", "optimal")
MODEL = {"flops": {"n_params": 1.35e8, "n_layers": 30, "d_model": 576}}


def peak_gb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1e6
    return float("nan")


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


# --- the baseline ---------------------------------------------------------------------------------

def pandas_aggregate(files: dict, out: Path) -> pd.DataFrame:
    def read(paths: list[str], cols: list[str]) -> pd.DataFrame:
        return pd.concat([pd.read_parquet(p, columns=cols) for p in paths], ignore_index=True)

    keys = ["problem_id", "sample_index"]
    df = read(files["samples"], [*keys, "prompt_tokens", "completion_tokens", "cumulative_logprob"])
    df = df.merge(read(files["verdicts"], [*keys, "correct", "status", "answer_key"]), on=keys, how="left",
                  validate="one_to_one")
    for scorer, paths in files["scores"].items():
        sc = read(paths, [*keys, "score", "score_last", "score_min", "score_prod", "score_mean"])
        sc = sc.rename(columns={c: f"score_{scorer}" if c == "score" else f"score_{scorer}_{c[6:]}"
                                for c in sc.columns if c.startswith("score")})
        df = df.merge(sc, on=keys, how="left", validate="one_to_one")
    if df.isna()[["correct"]].any().any():
        raise SystemExit("baseline: a sample has no verdict")
    per_problem = df.groupby("problem_id").agg(n=("correct", "size"), n_correct=("correct", "sum"),
                                               prompt_tokens=("prompt_tokens", "mean"),
                                               completion_tokens=("completion_tokens", "mean"))
    df.to_parquet(out / "samples.parquet")
    per_problem.to_parquet(out / "problems.parquet")
    return df


def _pass_at_k(n: int, c: int, k: int) -> float:
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def _log_comb(a: np.ndarray, b: int) -> np.ndarray:
    from scipy.special import gammaln

    with np.errstate(invalid="ignore"):
        return np.where(a >= b, gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1), -np.inf)


def _best_of_k(scores: np.ndarray, correct: np.ndarray, k: int) -> float:
    s = pd.Series(np.where(np.isnan(scores), -np.inf, scores))
    hi = s.rank(method="max").to_numpy()  # samples at or below each one
    lo = s.rank(method="min").to_numpy() - 1  # strictly below
    n = len(s)
    top = np.exp(_log_comb(hi, k) - _log_comb(np.array(n), k)) - np.exp(_log_comb(lo, k) - _log_comb(np.array(n), k))
    return float(np.sum(correct * top / (hi - lo)))


def pandas_curves(df: pd.DataFrame, ks: np.ndarray, draws: int, bootstrap: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    score_cols = [c for c in df.columns if c.startswith("score_") and df[c].notna().any()]
    df = df.assign(logprob=df["cumulative_logprob"],
                   mean_logprob=df["cumulative_logprob"] / df["completion_tokens"].clip(lower=1))
    best_cols = [*score_cols, "logprob", "mean_logprob"]
    weighted = [c for c in score_cols if c.count("_") == 1]  # the scorers' main scores
    curves: dict[str, list[list[float]]] = {}
    for _, g in df.sort_values(["problem_id", "sample_index"]).groupby("problem_id", sort=True):
        correct = g["correct"].to_numpy(bool)
        n, c = len(g), int(correct.sum())
        curves.setdefault("oracle", []).append([_pass_at_k(n, c, int(k)) for k in ks])
        for col in best_cols:
            curves.setdefault(f"best:{col}", []).append([_best_of_k(g[col].to_numpy(), correct, int(k)) for k in ks])
        keys = g["answer_key"].to_numpy(object)
        codes, uniq = pd.factorize(keys)  # -1 for no answer
        frac = np.array([correct[codes == u].mean() for u in range(len(uniq))])
        ws = {"vote": np.ones(n), **{f"wvote:{col}": g[col].to_numpy() for col in weighted}}
        sums = {name: np.zeros(len(ks)) for name in ws}
        for j, k in enumerate(ks):
            for _ in range(draws if k < n else 1):
                pick = rng.choice(n, int(k), replace=False)
                lab = codes[pick]
                ok = lab >= 0
                for name, w in ws.items():
                    if not ok.any():
                        continue
                    tot = np.bincount(lab[ok], w[pick][ok], len(uniq))
                    present = np.bincount(lab[ok], minlength=len(uniq)) > 0
                    tot = np.where(present, tot, -np.inf)
                    tied = np.flatnonzero(tot == tot.max())
                    sums[name][j] += frac[tied].mean()
        for name in ws:
            reps = np.array([draws if k < n else 1 for k in ks])
            curves.setdefault(name, []).append(list(sums[name] / reps))
    out = {}
    for name, rows in curves.items():
        v = np.array(rows)
        boots = np.array([v[rng.integers(0, len(v), len(v))].mean(axis=0) for _ in range(bootstrap)])
        lo, hi = np.quantile(boots, [0.025, 0.975], axis=0)
        out[name] = (v.mean(axis=0), lo, hi)
    return out


# --- the run ----------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--workdir", default=None, help="where the shards go (default: a temporary directory)")
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="ttscale-bench-agg-"))
    spec = SyntheticSpec(n_problems=args.problems, samples=args.samples, block_size=1000, problems_per_block=1000,
                         scorers=("orm", "prm"), seed=0)
    n_samples = args.problems * args.samples
    try:
        t = time.perf_counter()
        files = write_run(work / "exp", spec)
        print(f"wrote {n_samples:,} samples in {len(files['samples'])} blocks, verdicts and 2 scorers "
              f"({time.perf_counter() - t:.1f}s, untimed)")

        reset_peak()
        t = time.perf_counter()
        aggregate_run(samples=files["samples"], verdicts=files["verdicts"], scores=files["scores"],
                      problems=files["problems"], out_samples=work / "agg" / "samples.parquet",
                      out_problems=work / "agg" / "problems.parquet", model=spec.model, dataset=spec.dataset,
                      sampling=spec.sampling, samples_per_problem=spec.samples, threads=2)
        ours_agg = time.perf_counter() - t
        outs = {name: work / "an" / f"{name}.parquet" for name in TABLES}
        t = time.perf_counter()
        summary = analyze_run(work / "agg" / "samples.parquet", work / "agg" / "problems.parquet", outs, {}, MODEL,
                              seed=0, threads=2)
        ours_analysis = time.perf_counter() - t
        ours_curves = summary["curves_seconds"]  # load + every curve for every k + bootstrap intervals per bin
        ours_peak = peak_gb()
        ours = pd.read_parquet(outs["curves"])
        ours = ours[(ours["scheme"] == "all") & ours["metric"].isin(["coverage", "accuracy"])]
        n_curves = ours["selector"].nunique()
        print(f"ours:     aggregation {ours_agg:6.1f}s   {n_curves} curves x {ours['k'].nunique()} ks with CIs, "
              f"all bins {ours_curves:6.1f}s   (+ fits, extrapolation, compute-optimal: analysis total "
              f"{ours_analysis:.1f}s)   peak {ours_peak:.2f} GB")
        if args.skip_baseline:
            return

        st = analysis_settings({})
        draws = int(np.clip(st["vote"]["draw_budget"] // n_samples, st["vote"]["min_draws"], st["vote"]["max_draws"]))
        ks = k_grid(args.samples, st["grid_base"], st["ks"])
        (work / "pd").mkdir()
        reset_peak()
        t = time.perf_counter()
        df = pandas_aggregate(files, work / "pd")
        base_agg = time.perf_counter() - t
        t = time.perf_counter()
        base = pandas_curves(df, ks, draws, st["bootstrap"])
        base_curves = time.perf_counter() - t
        base_peak = peak_gb()
        print(f"baseline: aggregation {base_agg:6.1f}s   {len(base)} curves x {len(ks)} ks, CIs (no bins, no fits)"
              f" {base_curves:6.1f}s   peak {base_peak:.2f} GB")

        worst = {}
        for name, (mean, _, _) in base.items():
            mine = ours[ours["selector"] == name.replace("score_", "").replace("prm_", "prm:")].sort_values("k")
            if len(mine) != len(mean):
                raise SystemExit(f"curve {name}: ours has {len(mine)} points, the baseline {len(mean)}")
            diff = np.abs(mine["value"].to_numpy() - mean)
            worst[name] = float(diff.max())
        exact = {k: v for k, v in worst.items() if "vote" not in k}
        mc = {k: v for k, v in worst.items() if "vote" in k}
        print(f"agreement: exact curves max |diff| {max(exact.values()):.2e}; Monte Carlo votes max |diff| "
              f"{max(mc.values()):.4f} ({draws} draws each side)")
        print(f"targets: aggregation < 15 s: {ours_agg < 15}; curves < 10 s: {ours_curves < 10}; "
              f"peak < 4 GB: {ours_peak < 4}")
        print(f"RESULT aggregation_10M ours={ours_agg:.2f} s baseline={base_agg:.2f} s ratio={ours_agg / base_agg:.3f}")
        print(f"RESULT curves_10M ours={ours_curves:.2f} s baseline={base_curves:.2f} s "
              f"ratio={ours_curves / base_curves:.3f}")
        print(f"RESULT peak_memory_10M ours={ours_peak:.2f} GB baseline={base_peak:.2f} GB "
              f"ratio={ours_peak / base_peak:.3f}")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
