"""Adaptive sample allocation: round schedules, allocation rules, and estimators valid under them.

Why: most repeated-sampling cost goes to problems whose outcome is settled after a few samples.
Generating in rounds and stopping settled problems spends the samples where the coverage curve is
uncertain, but then a problem's sample count depends on its own outcomes, and the plain pass@k
estimator (Chen et al. 2021), which assumes a fixed n, is no longer valid at every k.

Design (lockstep rounds). The schedule fixes the cumulative sample counts at the end of each round,
`ends = [e_1 < e_2 < ... < e_R = target]`. Every problem gets round 1; after each round an allocation
rule (registry `ALLOCATORS`) decides, from the verified counts so far, which problems get the next
round. A stopped problem never resumes, so all problems active in round r hold samples
[e_{r-1}, e_r) and a round is one block of sample indices over a subset of problems.

Estimator of coverage@k. Let I = 1{the problem's first k samples all fail}; E[I] = (1 - p)^k. I is
always observable when the problem has n >= k samples or any success (a success among n < k samples
makes I = 0). The rules decide from per-round success counts only, so given those counts every order
of successes within a round is equally likely, and

    E[I | round counts] = prod_r C(b_r - j_r, x_r) / C(b_r, x_r)

(b_r the round's size, x_r its successes, j_r how many of its positions lie among the first k) is an
unbiased, Rao-Blackwellised estimate of (1 - p)^k under ANY such rule. With one round it is Chen et
al.'s 1 - pass@k; for the rule "stop after s successes" with s = 1 it equals the inverse-binomial
(Rao-Blackwell given n and c) estimator, since all earlier rounds have x_r = 0. Coverage@k is the
mean over problems of 1 - that estimate; it is defined at k only when every problem without a
success has at least k samples (`estimable_k`).

Selectors (majority vote, best-of-k) depend on more than correctness; their curves are estimated on
the first round, which every problem gets whatever the outcomes, so the usual estimators apply there
for k <= e_1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ttscale.errors import ConfigError
from ttscale.registry import Registry


def schedule(first: int, growth: float, target: int) -> np.ndarray:
    """Cumulative sample counts at the end of each round: first, first*growth, ..., target."""
    if first < 1 or target < 1 or growth <= 1:
        raise ConfigError(f"adaptive schedule: need first >= 1, target >= 1 and growth > 1 "
                          f"(got first={first}, growth={growth}, target={target})")
    ends = []
    e = float(min(first, target))
    while round(e) < target:
        if not ends or round(e) > ends[-1]:
            ends.append(round(e))
        e *= growth
    ends.append(int(target))
    return np.array(ends, dtype=np.int64)


def round_sizes(ends: np.ndarray) -> np.ndarray:
    return np.diff(np.concatenate([[0], ends]))


# --- estimators -----------------------------------------------------------------------------------

def _log_ratio(b: np.ndarray, j: np.ndarray, x: np.ndarray) -> np.ndarray:
    """log C(b - j, x) / C(b, x) (-inf where b - j < x), broadcast."""
    # imported here: the planner imports this module (round schedules) on every Snakemake start,
    # and scipy.special alone costs it a few tenths of a second
    from scipy.special import gammaln

    m = b - j
    ok = m >= x
    safe_m = np.where(ok, m, x)
    out = (gammaln(safe_m + 1) - gammaln(safe_m - x + 1) - gammaln(b + 1) + gammaln(b - x + 1))
    return np.where(ok, out, -np.inf)


def fail_prob(ends: np.ndarray, rounds: np.ndarray, succ: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Unbiased estimates of (1 - p)^k per problem and k, NaN where k is not estimable.

    ends: the schedule (R,); rounds: rounds each problem got (...,), >= 1; succ: successes per round
    (..., R), zero past a problem's last round; ks: (K,). Returns (..., K).
    """
    ends = np.asarray(ends, np.int64)
    sizes = round_sizes(ends).astype(np.float64)
    starts = (ends - sizes).astype(np.float64)
    rounds = np.asarray(rounds, np.int64)
    succ = np.asarray(succ, np.float64)
    k = np.asarray(ks, np.float64)
    taken = np.arange(len(ends)) < rounds[..., None]  # (..., R)
    j = np.clip(k[:, None] - starts[None, :], 0, sizes[None, :])  # (K, R)
    lr = _log_ratio(sizes[None, :], j, succ[..., None, :])  # (..., K, R)
    lr = np.where(taken[..., None, :], lr, 0.0)
    est = np.exp(lr.sum(axis=-1))
    n = ends[rounds - 1]
    solved = succ.sum(axis=-1) > 0
    ok = solved[..., None] | (n[..., None] >= k)
    return np.where(ok, est, np.nan)


def coverage_values(ends: np.ndarray, rounds: np.ndarray, succ: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Per-problem coverage@k estimates (1 - fail_prob), NaN where not estimable."""
    return 1.0 - fail_prob(ends, rounds, succ, ks)


def estimable_k(ends: np.ndarray, rounds: np.ndarray, succ: np.ndarray) -> int:
    """The largest k at which coverage@k is estimable: min samples over problems without a success."""
    ends = np.asarray(ends)
    n = ends[np.asarray(rounds) - 1]
    unsolved = np.asarray(succ).sum(axis=-1) == 0
    return int(n[unsolved].min()) if unsolved.any() else int(ends[-1])


def uniform_fail_prob(n: int, c: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Chen et al.'s C(n - c, k) / C(n, k) as the one-round case of `fail_prob`."""
    c = np.asarray(c)
    return fail_prob(np.array([n]), np.ones(c.shape, np.int64), c[..., None], ks)


# --- allocation rules -----------------------------------------------------------------------------

@dataclass(frozen=True)
class State:
    """What a rule sees after a round: per problem, samples drawn and successes (leading axes: runs)."""

    n: np.ndarray  # (..., P) samples so far
    c: np.ndarray  # (..., P) successes so far
    active: np.ndarray  # (..., P) bool: still allocated
    ends: np.ndarray  # the schedule
    next_size: int  # samples each continuing problem gets next round
    used: np.ndarray  # (...,) samples drawn so far per run


Rule = Callable[[State, dict[str, Any]], np.ndarray]
ALLOCATORS: Registry[Rule] = Registry("adaptive allocation rule")


@ALLOCATORS.register("successes")
def stop_after_successes(state: State, settings: dict[str, Any]) -> np.ndarray:
    """Continue a problem until it has `successes` correct samples (or reaches the target)."""
    s = int(settings.get("successes", 1))
    return state.active & (state.c < s)


def _k_grid(target: int) -> np.ndarray:
    ks = [1]
    while ks[-1] * 2 <= target:
        ks.append(ks[-1] * 2)
    if ks[-1] != target:
        ks.append(target)
    return np.array(ks, np.float64)


def within_variance(n: np.ndarray, c: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Approximate variance of a problem's coverage@k estimate, given n samples with c correct.

    p is estimated as (c + 1/2) / (n + 1). For k <= n the estimate averages over k-subsets and its
    variance is about (k q^(k-1))^2 p q / n (delta method), capped at q^k (1 - q^k); for k > n an
    unsolved problem is not yet estimable (infinite), a solved one's estimate is an indicator with
    variance q^k (1 - q^k).
    """
    n = np.asarray(n, np.float64)[..., None]
    c = np.asarray(c, np.float64)[..., None]
    p = (c + 0.5) / (n + 1.0)
    q = 1.0 - p
    qk = q ** ks
    bern = qk * (1.0 - qk)
    delta = (ks * q ** (ks - 1)) ** 2 * p * q / n
    v = np.where(ks <= n, np.minimum(delta, bern), bern)
    return np.where((ks > n) & (c == 0), np.inf, v)


@ALLOCATORS.register("band")
def narrowest_band(state: State, settings: dict[str, Any]) -> np.ndarray:
    """Continue the problems whose estimation noise still widens the coverage band up to the target.

    The band's variance at k is (between-problem variance + mean within-problem variance) / P. A
    problem continues while its within-problem variance at some grid k exceeds `tolerance` times the
    between-problem variance there (so the band is at most ~sqrt(1 + tolerance) wider than with
    unlimited samples), and unsolved problems continue to the target (else coverage there is not
    estimable). With a `budget` (total samples), when the next round does not fit, the problems with
    the largest ratio get it and the others stop.
    """
    tol = float(settings.get("tolerance", 0.1))
    target = int(state.ends[-1])
    ks = _k_grid(target)
    v = within_variance(state.n, state.c, ks)  # (..., P, K)
    p = (state.c + 0.5) / (state.n + 1.0)
    cover = 1.0 - (1.0 - p[..., None]) ** ks
    between = np.var(cover, axis=-2, keepdims=True) + 1e-6
    ratio = np.max(v / between, axis=-1)  # (..., P)
    go = state.active & (ratio > tol)
    budget = settings.get("budget")
    if budget is not None:
        left = (float(budget) - state.used) // max(state.next_size, 1)  # rounds of problems that fit
        score = np.where(go, ratio, -np.inf)
        rank = np.argsort(np.argsort(-score, axis=-1, kind="stable"), axis=-1, kind="stable")
        go &= rank < np.maximum(left, 0)[..., None]
    return go


def check_settings(settings: dict[str, Any], where: str = "adaptive") -> None:
    """Clear errors for a bad adaptive section (the schema checks types; this checks meaning)."""
    ALLOCATORS.get(settings.get("rule", "band"), where=f"{where}.rule")
    if int(settings.get("first", 8)) < 1:
        raise ConfigError(f"{where}.first must be at least 1 (got {settings.get('first')})")
    if float(settings.get("growth", 2.0)) <= 1:
        raise ConfigError(f"{where}.growth must exceed 1 (got {settings.get('growth')})")


def next_round(n: np.ndarray, c: np.ndarray, active: np.ndarray, ends: np.ndarray, round_done: int,
               settings: dict[str, Any]) -> np.ndarray:
    """Which problems get round `round_done + 1` (0-based rounds); none after the last round."""
    if round_done + 1 >= len(ends):
        return np.zeros_like(active)
    size = int(ends[round_done + 1] - ends[round_done])
    used = np.sum(n, axis=-1)
    state = State(n=n, c=c, active=active, ends=ends, next_size=size, used=used)
    return ALLOCATORS.get(settings.get("rule", "band"), where="adaptive.rule")(state, settings)


def floor_samples(p: np.ndarray, target: int) -> float:
    """Expected samples of the cheapest design whose coverage@target estimate is unbiased: any such
    design must keep drawing while a problem has no success and fewer than `target` samples (an
    unbiased estimate of (1 - p)^K needs K trials on the all-failure path: with fewer, every
    estimator's mean is a polynomial in p of lower degree), so per problem it draws at least
    min(first success, K) samples, whose mean is (1 - (1 - p)^K) / p (K when p = 0)."""
    p = np.asarray(p, np.float64)
    safe = np.where(p > 0, p, 1.0)
    return float(np.where(p > 0, (1.0 - (1.0 - p) ** target) / safe, float(target)).sum())


# --- simulation (vectorised over runs; used by tests, the benchmark and the power analysis) ---------

def round_draws(p: np.ndarray, ends: np.ndarray, runs: int, rng: np.random.Generator) -> np.ndarray:
    """Every round's successes for every problem, as if none stopped: (runs, P, R). The uniform design
    with the same samples is the sum over rounds, so a comparison on them has common random numbers."""
    p = np.asarray(p, np.float64)
    return rng.binomial(round_sizes(ends)[None, None, :], p[None, :, None], size=(runs, len(p), len(ends)))


def simulate(p: np.ndarray, ends: np.ndarray, settings: dict[str, Any], runs: int,
             rng: np.random.Generator, draws: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`runs` adaptive runs over problems with true success rates p: (rounds (runs, P), succ (runs, P, R)).

    `draws` (from `round_draws`) fixes the successes each round would have: the adaptive run then
    sees exactly the samples a uniform run of the same draws sees first (coupled comparison)."""
    p = np.asarray(p, np.float64)
    sizes = round_sizes(ends)
    R, P = len(ends), len(p)
    if draws is not None and draws.shape != (runs, P, R):
        raise ValueError(f"draws has shape {draws.shape}, expected {(runs, P, R)}")
    succ = np.zeros((runs, P, R), np.int64)
    rounds = np.zeros((runs, P), np.int64)
    active = np.ones((runs, P), bool)
    for r in range(R):
        draw = draws[..., r] if draws is not None else rng.binomial(int(sizes[r]), np.broadcast_to(p, (runs, P)))
        succ[..., r] = np.where(active, draw, 0)
        rounds += active
        n = ends[np.maximum(rounds, 1) - 1]
        c = succ.sum(axis=-1)
        active = next_round(n, c, active, ends, r, settings) & active
        if not active.any():
            break
    return rounds, succ


def coverage_curve(ends: np.ndarray, rounds: np.ndarray, succ: np.ndarray, ks: np.ndarray, resamples: int,
                   confidence: float, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Coverage@k of one adaptive run with percentile bootstrap intervals over problems (the design's
    independent units), one row per k; a k beyond `estimable_k` is reported with `estimable` False and
    no value rather than a biased one."""
    from ttscale.analysis.stats import boot_means, interval, resample_counts

    values = coverage_values(ends, rounds, succ, ks)  # problems x ks
    reach = estimable_k(ends, rounds, succ)
    counts = resample_counts(values.shape[0], resamples, rng)
    rows = []
    for j, k in enumerate(np.asarray(ks)):
        row: dict[str, Any] = {"k": int(k), "estimable": bool(k <= reach), "coverage": np.nan, "lo": np.nan,
                               "hi": np.nan}
        if k <= reach:
            lo, hi = interval(boot_means(values[:, j:j + 1], counts), confidence)
            row.update(coverage=float(values[:, j].mean()), lo=float(lo[0]), hi=float(hi[0]))
        rows.append(row)
    return rows
