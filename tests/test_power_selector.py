"""Power of a selector's accuracy@k comparison (ttscale.analysis.power_selector): predicted power
against repeated simulated experiments from a known world, the pilot reader on shard files, and the
comparison through `run_power`."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

import ttscale.plan  # noqa: F401  (imports the stages, which register their config checks)
from ttscale.analysis.estimators import best_of_k
from ttscale.analysis.power import Pilot, analyze_comparison, beta_quantile, run_power
from ttscale.analysis.power_selector import SelectorPilot, read_selector_pilot, selector_accuracy
from ttscale.errors import ConfigError
from ttscale.testing.synthetic import SyntheticSpec, write_run

# per-problem rates of a ~ Beta(0.5, 2), of b ~ Beta(0.6, 1.9), Gaussian copula 0.85; a sample's
# score is N(MU * correct, 1) rounded to 0.1 (ties occur), the same scorer for both runs
A_AB, B_AB, RHO, MU = (0.5, 2.0), (0.6, 1.9), 0.85, 1.0
K = 4


def _world(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    z0 = rng.standard_normal(shape)
    z1 = RHO * z0 + np.sqrt(1 - RHO**2) * rng.standard_normal(shape)
    return beta_quantile(norm.cdf(z0), *A_AB), beta_quantile(norm.cdf(z1), *B_AB)


def _samples(rng: np.random.Generator, p: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    correct = rng.random((*p.shape, n)) < p[..., None]
    return correct, np.round(rng.standard_normal(correct.shape) + MU * correct, 1)


def _best(correct: np.ndarray, scores: np.ndarray, n: int) -> np.ndarray:
    """best-of-K (K = 4) estimates from each problem's n samples."""
    return best_of_k(scores.reshape(-1, n), correct.reshape(-1, n), np.array([K]))[:, 0]


def _true_difference() -> float:
    """best-of-4 accuracy of b minus a in the world (1M problems: standard error about 5e-4)."""
    rng = np.random.default_rng(99)
    pa, pb = _world(rng, (1_000_000,))
    return float(np.mean(_best(*_samples(rng, pb, K), K)) - np.mean(_best(*_samples(rng, pa, K), K)))


def _experiments(rng: np.random.Generator, problems: int, samples: int, runs: int) -> float:
    """Rejection rate of `runs` independent experiments in the world (paired two-sided z test)."""
    pa, pb = _world(rng, (runs, problems))
    d = (_best(*_samples(rng, pb, samples), samples) - _best(*_samples(rng, pa, samples), samples))
    d = d.reshape(runs, problems)
    mean, se = d.mean(axis=1), d.std(axis=1, ddof=1) / np.sqrt(problems)
    return float(np.mean(np.abs(mean) > norm.ppf(0.975) * se))


def _pilots(rng: np.random.Generator, problems: int, samples: int):
    pa, pb = _world(rng, (problems,))
    ids = np.array([f"q{i}" for i in range(problems)])
    out = []
    for name, p in (("a", pa), ("b", pb)):
        c, s = _samples(rng, p, samples)
        out.append((Pilot(name, "d", "s", ids, np.full(problems, samples), c.sum(axis=1), 10.0, 10.0, None),
                    SelectorPilot(ids, c, np.where(c, 0, 1 + np.arange(samples)), s)))
    return out


def test_predicted_selector_power_matches_rejection_rate_of_simulated_experiments():
    rng = np.random.default_rng(7)
    (a, sa), (b, sb) = _pilots(rng, 2000, 32)  # a large pilot: the check is of the method
    diff = _true_difference()
    designs = [(200, 8), (100, 16)]
    rows = analyze_comparison({"name": "best", "k": K, "difference": diff, "selector": "best:orm"}, a, b,
                              {"problems": [100, 200], "samples": [8, 16], "alpha": 0.05, "simulations": 2000},
                              seed=0, selectors=(sa, sb))
    checked = 0
    for r in rows:
        if (r["problems"], r["samples"]) not in designs:
            continue
        assert np.isnan(r["power_parametric"])  # no Beta world for a selector
        actual = _experiments(rng, r["problems"], r["samples"], 2000)
        assert 0.3 < actual < 0.8, "designs chosen where power is informative"
        assert abs(r["power_nonparametric"] - actual) <= 0.05, (r, actual)
        checked += 1
    assert checked == 2


def test_vote_power_grows_with_problems_and_needs_k_samples():
    rng = np.random.default_rng(3)
    (a, sa), (b, sb) = _pilots(rng, 200, 16)
    # wrong answers split over two keys per problem, so votes are contested
    for x in (sa, sb):
        x.keys[:] = np.where(x.correct, 0, 1 + (np.arange(16) % 2))
    rows = analyze_comparison({"name": "v", "k": 4, "difference": 0.15, "selector": "vote"}, a, b,
                              {"problems": [10, 60], "samples": [8], "alpha": 0.05, "simulations": 100},
                              seed=1, selectors=(sa, sb))  # vote_exact per problem: few simulations
    power = {r["problems"]: r["power_nonparametric"] for r in rows}
    assert 0 <= power[10] < power[60] <= 1
    with pytest.raises(ConfigError, match="fewer than k=32"):
        analyze_comparison({"name": "v", "k": 32, "selector": "vote"}, a, b,
                           {"problems": [20], "samples": [32], "alpha": 0.05, "simulations": 100}, seed=1,
                           selectors=(sa, sb))


def test_selector_pilot_from_shards_and_run_power(tmp_path):
    exp = tmp_path / "results" / "pilot"
    rates = np.random.default_rng(5).beta(0.5, 2.0, 40)
    for model, sampling, p, seed in (("small", "default-aaaa0000", rates, 0),
                                     ("large", "default-bbbb0000", np.minimum(rates * 1.8, 1), 1)):
        write_run(exp, SyntheticSpec(n_problems=40, samples=16, block_size=8, model=model, dataset="math",
                                     sampling=sampling, true_p=p, scorers=("orm",), seed=seed))
    sp = read_selector_pilot(exp, "small", "math", "default-aaaa0000", "best:orm")
    assert sp.correct.shape == (40, 16) and sp.scores is not None and np.isfinite(sp.scores).any()
    vote = read_selector_pilot(exp, "small", "math", "default-aaaa0000", "vote")
    assert vote.scores is None and (vote.keys >= -1).all()
    v = selector_accuracy("vote", vote.correct, vote.keys, None, 4)
    assert v.shape == (40,) and ((v >= 0) & (v <= 1)).all()
    with pytest.raises(ConfigError, match="only best-of-k"):
        read_selector_pilot(exp, "small", "math", "default-aaaa0000", "wvote:orm")
    cfg = {"seed": 0, "power": {"comparisons": [
        {"name": "orm", "a": {"model": "small", "dataset": "math"}, "b": {"model": "large", "dataset": "math"},
         "k": 4, "selector": "best:orm"}], "problems": [20, 40], "samples": [8], "simulations": 200,
        "power": 0.8, "alpha": 0.05}}
    rows, best = run_power(cfg, exp)
    assert [r["problems"] for r in rows] == [20, 40] and all(np.isnan(r["power_parametric"]) for r in rows)
    assert rows[0]["power_nonparametric"] <= rows[1]["power_nonparametric"]
    assert {b["method"] for b in best} == {"parametric", "nonparametric"}


def test_strategy_against_best_of_n_at_its_budget():
    """b is a search run with N = 8 answers per problem (resampled per problem, never subsampled), a
    best-of-8 by the same scorer from repeated sampling; prediction against simulated experiments."""
    rng = np.random.default_rng(11)
    N = 8
    pa, pb = _world(rng, (2000,))
    ids = np.array([f"q{i}" for i in range(2000)])
    ca, sca = _samples(rng, pa, 32)
    cb, scb = _samples(rng, pb, N)  # the search's N answers of each pilot problem
    a = Pilot("a", "d", "s", ids, np.full(2000, 32), ca.sum(axis=1), 10.0, 10.0, None)
    b = Pilot("b", "d", "beam.n8-0123abcd", ids, np.full(2000, N), cb.sum(axis=1), 10.0, 10.0, None)
    sa = SelectorPilot(ids, ca, np.where(ca, 0, 1 + np.arange(32)), sca)
    sb = SelectorPilot(ids, cb, np.where(cb, 0, 1 + np.arange(N)), scb, search=True)
    world = np.random.default_rng(98)
    qa, qb = _world(world, (1_000_000,))
    at_n = lambda c, sc: best_of_k(sc, c, np.array([N]))[:, 0]  # noqa: E731  (best-of-8 of 8 answers)
    diff = float(np.mean(at_n(*_samples(world, qb, N))) - np.mean(at_n(*_samples(world, qa, N))))
    rows = analyze_comparison({"name": "s", "k": N, "difference": diff, "selector": "best:orm"}, a, b,
                              {"problems": [300], "samples": [8, 16], "alpha": 0.05, "simulations": 2000},
                              seed=0, selectors=(sa, sb))

    def experiments(problems: int, samples: int, runs: int) -> float:
        pa_, pb_ = _world(rng, (runs, problems))
        k_ = np.array([N])
        ca, sca = _samples(rng, pa_, samples)
        va = best_of_k(sca.reshape(-1, samples), ca.reshape(-1, samples), k_)[:, 0]
        cb_, scb_ = _samples(rng, pb_, N)
        vb = best_of_k(scb_.reshape(-1, N), cb_.reshape(-1, N), k_)[:, 0]
        d = (vb - va).reshape(runs, problems)
        mean, se = d.mean(axis=1), d.std(axis=1, ddof=1) / np.sqrt(problems)
        return float(np.mean(np.abs(mean) > norm.ppf(0.975) * se))

    for r in rows:
        actual = experiments(r["problems"], r["samples"], 2000)
        assert 0.3 < actual < 0.9, "designs chosen where power is informative"
        assert abs(r["power_nonparametric"] - actual) <= 0.05, (r, actual)
    with pytest.raises(ConfigError, match="k must be 8"):
        analyze_comparison({"name": "s", "k": 4, "selector": "best:orm"}, a, b,
                           {"problems": [20], "samples": [8], "alpha": 0.05, "simulations": 100}, seed=0,
                           selectors=(sa, sb))
