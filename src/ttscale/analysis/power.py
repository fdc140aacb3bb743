"""Power analysis before a run: how many problems and samples tell two settings apart.

Why: the coverage curve follows from the distribution of per-problem single-sample success rates
(Schaeffer et al. 2025), which a small pilot already estimates, so the chance that a planned run
detects a difference can be computed before paying for it.

A comparison states two runs (a, b) of the pilot, a k, and optionally a difference in coverage@k to
detect (default: the pilot's own estimate). Each design (P problems, n samples per problem) is
simulated `simulations` times; an experiment draws P problems, n samples of each for each run,
computes Chen et al.'s unbiased coverage@k per problem, and tests the mean paired difference (same
problems: runs of one dataset) or the difference of means (two datasets) with a two-sided z test at
level `alpha`. The power is the fraction of simulated experiments that reject. The problems' success
rates come from two "worlds":

- parametric: each run's rates ~ Beta(alpha, beta) fitted to the pilot by beta-binomial maximum
  likelihood (ttscale.analysis.fits.fit_beta), paired through a Gaussian copula whose correlation
  makes the model's covariance of the two runs' rates equal the pilot's covariance of c / n;
- nonparametric: the pilot's problems resampled with replacement, and each problem's n samples
  drawn without replacement from its pilot samples (a hypergeometric count). Chen et al.'s estimator
  is a U-statistic, so an n-subset of N pilot samples gives its estimate the variance it has with n
  fresh samples (Var U_n = Var U_N + E Var(U_n | the N)); hence this needs n <= the pilot's samples.

The alternative the test must detect: in the parametric world b's rates p become 1 - (1 - p)^t, t
solved so that b's coverage@k minus a's equals the stated difference; in the nonparametric one the
per-problem differences are shifted by the stated minus the pilot's difference.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
from scipy.optimize import brentq
from scipy.stats import beta as beta_dist
from scipy.stats import norm

from ttscale.analysis.fits import fit_beta
from ttscale.analysis.passk import comb_ratio_table, pass_at_k_matrix
from ttscale.analysis.power_selector import SelectorPilot, observed, power_selector, read_selector_pilot
from ttscale.analysis.power_selector import z_reject as _reject
from ttscale.analysis.stats import stable_seed
from ttscale.errors import ConfigError, DataError
from ttscale.io import read_metadata, read_table

WORLD_SIZE = 20000  # parametric problems drawn once per comparison


@dataclass
class Pilot:
    """Per-problem pilot counts of one run, with its measured cost per sample."""

    model: str
    dataset: str
    sampling: str
    problem_id: np.ndarray
    n: np.ndarray
    c: np.ndarray
    prompt_tokens: float  # mean per sample
    completion_tokens: float  # mean per sample
    tokens_per_second: float | None  # generation throughput (completion tokens / wall second)


def _run_dir(exp: Path, model: str, dataset: str, sampling: str | None) -> Path:
    base = exp / "samples" / f"model={model}" / f"dataset={dataset}"
    found = sorted(p for p in base.glob("sampling=*") if p.is_dir())
    if sampling is not None:
        found = [p for p in found if p.name.split("=", 1)[1] == sampling
                 or p.name.split("=", 1)[1].rsplit("-", 1)[0] == sampling]
    found = [p for p in found if any(p.glob("*.parquet"))]
    if not found:
        raise DataError(f"{base}: no pilot shards for model={model}, dataset={dataset}"
                        + (f", sampling={sampling}" if sampling else ""))
    if len(found) > 1:
        raise ConfigError(f"{base}: several runs match ({', '.join(p.name for p in found)}); "
                          "name one with `sampling:` (its preset or full key)")
    return found[0]


def read_pilot(exp: str | Path, model: str, dataset: str, sampling: str | None = None) -> Pilot:
    """Every sample shard of the run that has its verdict shard (a pilot may be unfinished)."""
    exp = Path(exp)
    sdir = _run_dir(exp, model, dataset, sampling)
    rel = sdir.relative_to(exp / "samples")
    ids, idx, correct, ptok, ctok = [], [], [], [], []
    gen_tokens, gen_seconds = 0.0, 0.0
    for shard in sorted(sdir.glob("*.parquet")):
        vshard = exp / "verdicts" / rel / shard.name
        if not vshard.exists():
            continue
        s = read_table(shard, columns=["problem_id", "sample_index", "prompt_tokens", "completion_tokens"])
        v = read_table(vshard, columns=["problem_id", "sample_index", "correct"])
        if s.num_rows != v.num_rows or s["problem_id"] != v["problem_id"] or s["sample_index"] != v["sample_index"]:
            raise DataError(f"{vshard}: its rows do not match the sample shard {shard} row for row")
        ids.append(s["problem_id"].to_numpy(zero_copy_only=False))
        idx.append(s["sample_index"].to_numpy(zero_copy_only=False))
        correct.append(v["correct"].to_numpy(zero_copy_only=False).astype(bool))
        ptok.append(pc.cast(s["prompt_tokens"], "float64").to_numpy(zero_copy_only=False))
        ctok.append(pc.cast(s["completion_tokens"], "float64").to_numpy(zero_copy_only=False))
        meta = read_metadata(shard)
        if meta.get("tokens_per_second") and meta.get("seconds"):
            gen_seconds += float(meta["seconds"])
            gen_tokens += float(meta["tokens_per_second"]) * float(meta["seconds"])
    if not ids:
        raise DataError(f"{exp / 'verdicts' / rel}: no verified pilot shards yet (verify the pilot first)")
    pid = np.concatenate(ids)
    uid, inv = np.unique(pid.astype(str), return_inverse=True)
    sidx = np.concatenate(idx).astype(np.int64)
    if len(np.unique(inv.astype(np.int64) * (int(sidx.max()) + 1) + sidx)) != len(sidx):
        raise DataError(f"{sdir}: a (problem_id, sample_index) occurs in two shards")
    cor = np.concatenate(correct)
    return Pilot(model=model, dataset=dataset, sampling=sdir.name.split("=", 1)[1], problem_id=uid,
                 n=np.bincount(inv, minlength=len(uid)), c=np.bincount(inv, cor, len(uid)).astype(np.int64),
                 prompt_tokens=float(np.nanmean(np.concatenate(ptok))),
                 completion_tokens=float(np.nanmean(np.concatenate(ctok))),
                 tokens_per_second=gen_tokens / gen_seconds if gen_seconds > 0 else None)


# --- worlds ----------------------------------------------------------------------------------------

def coverage(p: np.ndarray, k: int) -> float:
    with np.errstate(divide="ignore"):
        return float(np.mean(-np.expm1(k * np.log1p(-np.minimum(p, 1.0)))))


def shift_to(pa: np.ndarray, pb: np.ndarray, k: int, difference: float, where: str) -> np.ndarray:
    """b's rates p -> 1 - (1 - p)^t with coverage@k(b) - coverage@k(a) = difference."""
    goal = coverage(pa, k) + difference
    top = coverage(pb, k * 1e6) if np.any(pb > 0) else 0.0
    if not 0.0 < goal < 1.0 or goal >= top:
        raise ConfigError(f"{where}: a difference of {difference:+.3f} in coverage@{k} is not reachable from "
                          f"a's coverage {coverage(pa, k):.3f} (b's rates reach at most {top:.3f})")
    f = lambda lt: coverage(1.0 - (1.0 - pb) ** np.exp(lt), k) - goal  # noqa: E731
    lt = brentq(f, -30.0, np.log(1e6), xtol=1e-10)
    return 1.0 - (1.0 - pb) ** np.exp(lt)


_U = np.unique(np.concatenate([np.logspace(-10, -2, 300), np.linspace(0.01, 0.99, 1500),
                               1 - np.logspace(-2, -10, 300)]))


def beta_quantile(u: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Beta quantiles by interpolating a fixed table of 2,100 (scipy's ppf per point is slow); table
    points where scipy's root finder gives up (far tails of extreme shapes) are left out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        table = beta_dist.ppf(_U, alpha, beta)
    ok = np.isfinite(table)
    return np.interp(u, _U[ok], table[ok])


def parametric_world(a: Pilot, b: Pilot, paired: bool, rng: np.random.Generator,
                     size: int = WORLD_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Rates drawn from each run's fitted Beta, coupled by a Gaussian copula (paired runs).

    The copula's correlation is chosen so that the model's covariance of the two runs' rates equals
    the pilot's covariance of the observed rates c/n, an unbiased estimate of it (the binomial noise
    of the two runs is independent); the observed correlation would be diluted by that noise.
    """
    fits = [fit_beta(x.c, x.n) for x in (a, b)]
    for x, f in zip((a, b), fits, strict=False):
        if not f["ok"]:
            raise DataError(f"pilot {x.model}/{x.dataset}: {f.get('note', 'the Beta fit failed')}")
    z0, e = rng.standard_normal((2, size))
    pa = beta_quantile(norm.cdf(z0), fits[0]["alpha"], fits[0]["beta"])

    def world_b(rho: float) -> np.ndarray:
        return beta_quantile(norm.cdf(rho * z0 + np.sqrt(1 - rho**2) * e), fits[1]["alpha"], fits[1]["beta"])

    if not paired:
        return pa, world_b(0.0)
    ia, ib = _pairs(a, b, paired)
    target = float(np.cov(a.c[ia] / a.n[ia], b.c[ib] / b.n[ib])[0, 1])
    cov = lambda rho: float(np.cov(pa, world_b(rho))[0, 1]) - target  # noqa: E731
    lo, hi = cov(-0.999), cov(0.999)
    rho = -0.999 if lo >= 0 else 0.999 if hi <= 0 else brentq(cov, -0.999, 0.999, xtol=1e-4)
    return pa, world_b(rho)


def _pairs(a: Pilot, b: Pilot, paired: bool) -> tuple[np.ndarray, np.ndarray]:
    if not paired:
        return np.arange(len(a.n)), np.arange(len(b.n))
    _, ia, ib = np.intersect1d(a.problem_id, b.problem_id, return_indices=True)
    if len(ia) < 2:
        raise DataError(f"pilot: runs {a.model} and {b.model} on {a.dataset} share fewer than 2 problems")
    return ia, ib


def observed_difference(a: Pilot, b: Pilot, k: int, paired: bool) -> float:
    """The pilot's unbiased coverage@k of b minus a (on the shared problems when paired)."""
    ia, ib = _pairs(a, b, paired)
    va = pass_at_k_matrix(a.n[ia], a.c[ia], [k])[:, 0]
    vb = pass_at_k_matrix(b.n[ib], b.c[ib], [k])[:, 0]
    return float(np.mean(vb) - np.mean(va))


# --- simulation of experiments ---------------------------------------------------------------------

def _passk_by_c(samples: int, k: int) -> np.ndarray:
    return 1.0 - comb_ratio_table(samples, np.array([k]))[0][::-1]  # pass@k by number correct c


def power_parametric(pa: np.ndarray, pb: np.ndarray, paired: bool, problems: int, samples: int, k: int,
                     alpha: float, simulations: int, rng: np.random.Generator) -> float:
    """Experiments drawn from a world of rates: P problems, n binomial samples of each per run."""
    table = _passk_by_c(samples, k)
    ia = rng.integers(0, len(pa), (simulations, problems))
    ib = ia if paired else rng.integers(0, len(pb), (simulations, problems))
    return _reject(table[rng.binomial(samples, pa[ia])], table[rng.binomial(samples, pb[ib])], paired, alpha)


def power_nonparametric(a: Pilot, b: Pilot, paired: bool, difference: float, problems: int, samples: int,
                        k: int, alpha: float, simulations: int, rng: np.random.Generator) -> float:
    """Experiments resampled from the pilot: problems with replacement, each problem's n samples
    without replacement from its pilot samples; the per-problem differences are shifted so that
    their population mean is the stated difference. NaN when n exceeds some problem's pilot n."""
    ia, ib = _pairs(a, b, paired)
    if samples > min(a.n[ia].min(), b.n[ib].min()):
        return float("nan")
    table = _passk_by_c(samples, k)
    ja = rng.integers(0, len(ia), (simulations, problems))
    jb = ja if paired else rng.integers(0, len(ib), (simulations, problems))

    def draw(x: Pilot, idx: np.ndarray) -> np.ndarray:
        c, n = x.c[idx], x.n[idx]
        return table[rng.hypergeometric(c, n - c, samples)]

    offset = difference - observed_difference(a, b, k, paired)
    return _reject(draw(a, ia[ja]), draw(b, ib[jb]), paired, alpha, offset)


def analyze_comparison(cmp: dict[str, Any], a: Pilot, b: Pilot, settings: dict[str, Any],
                       seed: int, selectors: tuple[SelectorPilot, SelectorPilot] | None = None
                       ) -> list[dict[str, Any]]:
    """One row per design (problems x samples) with both methods' power and the design's price.

    With `selectors` (the two runs' dense pilot samples; the comparison names a `selector`), the
    metric is that selector's accuracy@k, by the nonparametric method only (power_selector)."""
    name = cmp["name"]
    k = int(cmp["k"])
    paired = a.dataset == b.dataset
    if cmp.get("bin"):
        a, b = _in_bin(a, b, cmp["bin"], settings, name)
    if selectors is not None:
        return _selector_rows(cmp, a, b, selectors, paired, settings, seed)
    diff = cmp.get("difference")
    if diff is None:
        if min(a.n.min(), b.n.min()) < k:
            raise ConfigError(f"power.comparisons.{name}: the pilot has fewer than k={k} samples for some "
                              "problems; state `difference`")
        diff = observed_difference(a, b, k, paired)
    rng = np.random.default_rng(stable_seed(seed, "power", name))
    pa, pb = parametric_world(a, b, paired, rng)
    pb = shift_to(pa, pb, k, float(diff), f"power.comparisons.{name}")
    return _design_rows(cmp, k, float(diff), settings, a, b, lambda P, n: {
        "power_parametric": power_parametric(pa, pb, paired, P, n, k, settings["alpha"], settings["simulations"],
                                             rng),
        "power_nonparametric": power_nonparametric(a, b, paired, float(diff), P, n, k, settings["alpha"],
                                                   settings["simulations"], rng)})


def _design_rows(cmp: dict[str, Any], k: int, diff: float, settings: dict[str, Any], a: Pilot, b: Pilot,
                 powers: Callable[[int, int], dict[str, float]]) -> list[dict[str, Any]]:
    """One row per design (problems x samples, at least k samples per problem): the design, its powers
    from `powers(problems, samples)` and its price."""
    return [{"comparison": cmp["name"], "k": k, "bin": cmp.get("bin") or "all", "difference": diff,
             "problems": int(P), "samples": int(n), **powers(int(P), int(n)), **price(a, b, int(P), int(n))}
            for P in settings["problems"] for n in settings["samples"] if n >= k]


def _selector_rows(cmp: dict[str, Any], a: Pilot, b: Pilot, sel: tuple[SelectorPilot, SelectorPilot], paired: bool,
                   settings: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    name, k, selector = cmp["name"], int(cmp["k"]), cmp["selector"]
    sa, sb = (_keep(x, set(p.problem_id)) for x, p in zip(sel, (a, b), strict=True))  # the bin's problems
    for x in (sa, sb):
        if x.search and x.correct.shape[1] != k:
            raise ConfigError(f"power.comparisons.{name}: a search run with {x.correct.shape[1]} answers per "
                              f"problem is compared at its budget: k must be {x.correct.shape[1]}")
    if min(x.correct.shape[1] for x in (sa, sb)) < k:
        raise ConfigError(f"power.comparisons.{name}: the pilot has fewer than k={k} samples per problem for "
                          f"{selector}; its accuracy@k needs k samples")
    diff = cmp.get("difference")
    if diff is None:
        diff = observed(selector, sa, sb, k, paired)
    rng = np.random.default_rng(stable_seed(seed, "power", name))
    return _design_rows(cmp, k, float(diff), settings, a, b, lambda P, n: {
        "power_parametric": float("nan"),  # no parametric world for a selector
        "power_nonparametric": power_selector(selector, sa, sb, paired, float(diff), P, n, k, settings["alpha"],
                                              settings["simulations"], rng)})


def _keep(x: SelectorPilot, ids: set[str]) -> SelectorPilot:
    m = np.isin(x.problem_id, list(ids))
    return SelectorPilot(x.problem_id[m], x.correct[m], x.keys[m], None if x.scores is None else x.scores[m],
                         x.search)


def _in_bin(a: Pilot, b: Pilot, name: str, settings: dict[str, Any], where: str) -> tuple[Pilot, Pilot]:
    """Restrict both pilots to the problems in an absolute difficulty bin of a's pass@1."""
    lo, hi = settings.get("absolute_edges", [0.1, 0.5])
    p1 = a.c / a.n
    masks = {"hard": p1 < lo, "medium": (p1 >= lo) & (p1 < hi), "easy": p1 >= hi}
    if name not in masks:
        raise ConfigError(f"power.comparisons.{where}.bin: unknown bin {name!r}; known: easy, medium, hard")
    keep = set(a.problem_id[masks[name]])
    out = []
    for x in (a, b):
        m = np.isin(x.problem_id, list(keep)) if x.dataset == a.dataset else np.ones(len(x.n), bool)
        if m.sum() < 2:
            raise DataError(f"power.comparisons.{where}: fewer than 2 pilot problems in bin {name!r}")
        out.append(Pilot(x.model, x.dataset, x.sampling, x.problem_id[m], x.n[m], x.c[m], x.prompt_tokens,
                         x.completion_tokens, x.tokens_per_second))
    return out[0], out[1]


def price(a: Pilot, b: Pilot, problems: int, samples: int) -> dict[str, Any]:
    """Samples, tokens and device hours of the design for both runs, at the pilot's measured rates."""
    each = problems * samples
    tokens = each * (a.prompt_tokens + a.completion_tokens + b.prompt_tokens + b.completion_tokens)
    hours = 0.0
    for x in (a, b):
        if not x.tokens_per_second:
            hours = float("nan")
            break
        hours += each * x.completion_tokens / x.tokens_per_second / 3600.0
    return {"total_samples": 2 * each, "tokens": float(tokens), "gpu_hours": hours}


def smallest_designs(rows: list[dict[str, Any]], target: float) -> list[dict[str, Any]]:
    """Per comparison and method, the cheapest design (fewest samples) whose power reaches target."""
    out = []
    for name in sorted({r["comparison"] for r in rows}):
        for method in ("parametric", "nonparametric"):
            ok = [r for r in rows if r["comparison"] == name and r[f"power_{method}"] >= target]
            best = min(ok, key=lambda r: (r["total_samples"], r["samples"]), default=None)
            out.append({"comparison": name, "method": method, **(
                {"problems": best["problems"], "samples": best["samples"], "power": best[f"power_{method}"],
                 "total_samples": best["total_samples"], "gpu_hours": best["gpu_hours"]} if best else
                {"problems": None, "samples": None, "power": None, "total_samples": None, "gpu_hours": None})})
    return out


# --- the command ------------------------------------------------------------------------------------

def run_power(config: dict[str, Any], exp: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every comparison of `config['power']` against the pilot shards under `exp`."""
    settings = config.get("power") or {}
    comparisons = settings.get("comparisons") or []
    if not comparisons:
        raise ConfigError("power.comparisons: the config states no comparison")
    names = [c["name"] for c in comparisons]
    if len(set(names)) != len(names):
        raise ConfigError(f"power.comparisons: names must be unique (got {names})")
    seed = settings.get("seed")
    seed = int(config.get("seed", 0) if seed is None else seed)
    edges = config.get("analysis", {}).get("bins", {}).get("absolute_edges", [0.1, 0.5])
    rows: list[dict[str, Any]] = []
    pilots: dict[tuple[str, str, str | None], Pilot] = {}
    for cmp in comparisons:
        runs = []
        for side in ("a", "b"):
            spec = cmp[side]
            key = (spec["model"], spec["dataset"], spec.get("sampling"))
            if key not in pilots:
                pilots[key] = read_pilot(exp, *key)
            runs.append(pilots[key])
        sel = None
        if cmp.get("selector"):
            sel = tuple(read_selector_pilot(exp, x.model, x.dataset, x.sampling, cmp["selector"]) for x in runs)
        rows += analyze_comparison(cmp, runs[0], runs[1], {**settings, "absolute_edges": edges}, seed, sel)
    return rows, smallest_designs(rows, float(settings["power"]))
