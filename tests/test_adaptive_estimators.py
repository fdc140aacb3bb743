"""Adaptive allocation (ttscale.analysis.adaptive): schedules, rules, and coverage estimators that stay
unbiased when a problem's sample count depends on its own outcomes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ttscale.analysis.adaptive import (
    ALLOCATORS,
    coverage_values,
    estimable_k,
    fail_prob,
    floor_samples,
    next_round,
    round_draws,
    schedule,
    simulate,
    uniform_fail_prob,
)
from ttscale.analysis.passk import pass_at_k_matrix
from ttscale.errors import ConfigError

RULES = {
    "successes s=1": {"rule": "successes", "successes": 1},
    "successes s=3": {"rule": "successes", "successes": 3},
    "band": {"rule": "band", "tolerance": 0.1},
    "band with budget": {"rule": "band", "tolerance": 0.05, "budget": 2500},
}


def test_schedule_grows_geometrically_to_the_target():
    assert schedule(4, 2, 100).tolist() == [4, 8, 16, 32, 64, 100]
    assert schedule(10, 1.5, 30).tolist() == [10, 15, 22, 30]
    assert schedule(64, 2, 32).tolist() == [32]
    with pytest.raises(ConfigError, match="growth > 1"):
        schedule(4, 1, 100)


def test_one_round_is_chen_et_al():
    n, c = 20, np.array([0, 1, 5, 19, 20])
    ks = np.array([1, 2, 5, 10, 20])
    assert np.allclose(1 - uniform_fail_prob(n, c, ks), pass_at_k_matrix(np.full(5, n), c, ks), atol=1e-12)


@pytest.mark.parametrize("settings", [{"rule": "successes", "successes": 1}, {"rule": "successes", "successes": 2},
                                      {"rule": "band", "tolerance": 0.5}])
def test_estimator_is_exactly_unbiased_by_enumeration(settings):
    """Every outcome sequence of one problem, run through the rule: E[estimate] = (1 - p)^k exactly."""
    ends = np.array([2, 4, 6])
    ks = np.arange(1, 7)
    # a second, always-unsolved problem keeps the band rule's between-problem variance defined
    for p in (0.15, 0.5):
        mean = np.zeros(len(ks))
        for seq in itertools.product([0, 1], repeat=6):
            x = np.array(seq)
            weight = np.prod(np.where(x == 1, p, 1 - p))
            succ = np.zeros((2, 3), np.int64)
            rounds = np.zeros(2, np.int64)
            active = np.array([True, True])
            for r in range(3):
                succ[0, r] = x[ends[r] - 2:ends[r]].sum() if active[0] else 0
                rounds += active
                n = ends[rounds - 1]
                active = next_round(n, succ.sum(1), active, ends, r, settings) & active
            est = fail_prob(ends, rounds, succ, ks)[0]
            assert not np.isnan(est).any() or succ[0].sum() == 0
            mean += weight * np.nan_to_num(est)
        # where an unsolved problem stopped early k would be unestimable; these rules never stop it
        assert np.allclose(mean, (1 - p) ** ks, atol=1e-12), (settings, p)


@pytest.mark.parametrize("name", list(RULES))
def test_coverage_bias_below_half_a_point_over_2000_simulated_runs(name):
    settings = RULES[name]
    rng = np.random.default_rng(11)
    p = rng.beta(0.3, 2.0, 40)
    ends = schedule(4, 2, 128)
    ks = np.array([1, 2, 4, 8, 16, 32, 64, 128])
    truth = np.mean(1 - (1 - p[:, None]) ** ks, axis=0)
    rounds, succ = simulate(p, ends, settings, 2000, rng)
    values = coverage_values(ends, rounds, succ, ks)  # runs x problems x ks
    reach = np.array([estimable_k(ends, r, s) for r, s in zip(rounds, succ, strict=False)])
    for j, k in enumerate(ks):
        ok = reach >= k
        if "budget" not in settings:
            assert ok.all()
        if ok.sum() < 2000:  # the budget cut some runs short of k: the analysis would not report k there
            continue
        est = values[ok, :, j].mean(axis=1)
        assert abs(est.mean() - truth[j]) < 0.005, (name, k, est.mean(), truth[j])
    used = ends[rounds - 1].sum(axis=1)
    assert used.mean() < 40 * 128  # adaptive: fewer samples than uniform
    if "budget" in settings:
        assert used.max() <= settings["budget"]


def test_not_estimable_beyond_an_unsolved_problems_samples():
    ends = np.array([4, 8, 16])
    rounds = np.array([1, 3, 2])
    succ = np.array([[0, 0, 0], [0, 1, 0], [2, 0, 0]])
    est = fail_prob(ends, rounds, succ, np.array([4, 5, 16]))
    assert np.isnan(est[0, 1]) and np.isnan(est[0, 2]) and est[0, 0] == 1.0
    assert est[1, 0] == 1.0 and est[1, 2] == 0.0  # the success lies in samples 4..7
    assert est[2, 2] == 0.0 and est[2, 1] == 0.0
    assert estimable_k(ends, rounds, succ) == 4


def test_unknown_rule_names_the_key():
    with pytest.raises(ConfigError, match="adaptive.rule.*known: band, successes"):
        next_round(np.array([4]), np.array([0]), np.array([True]), np.array([4, 8]), 0, {"rule": "thompson"})
    assert ALLOCATORS.names() == ["band", "successes"]


def test_curve_reports_what_the_samples_can_estimate():
    from ttscale.analysis.adaptive import coverage_curve

    ends = np.array([4, 8, 16])
    rounds = np.array([3, 1, 2])  # the second problem stopped after 4 samples with a success
    succ = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 0]])  # the third is unsolved after 8 samples
    rows = coverage_curve(ends, rounds, succ, np.array([1, 8, 16]), 200, 0.95, np.random.default_rng(0))
    assert [r["estimable"] for r in rows] == [True, True, False]
    assert np.isnan(rows[2]["coverage"])
    assert rows[1]["coverage"] == pytest.approx(1 / 3) and rows[1]["lo"] <= 1 / 3 <= rows[1]["hi"]
    assert rows[0]["coverage"] == pytest.approx((0 + 0.25 + 0) / 3)


@pytest.mark.parametrize("name", ["successes s=1", "band"])
def test_with_common_draws_the_estimate_at_the_target_is_the_uniform_runs(name):
    """A rule that stops a problem only after a success gives, at K, exactly the estimate a uniform
    run of the same draws gives (the benchmark's coupled comparison rests on this), on fewer samples."""
    rng = np.random.default_rng(5)
    p = np.concatenate([rng.beta(0.3, 2.0, 30), [0.0, 0.0]])
    ends = schedule(4, 2, 64)
    draws = round_draws(p, ends, 300, rng)
    assert draws.shape == (300, 32, len(ends)) and (draws[:, -2:] == 0).all()
    rounds, succ = simulate(p, ends, RULES[name], 300, rng, draws=draws)
    at_k = coverage_values(ends, rounds, succ, np.array([64]))[..., 0]
    uniform = (draws.sum(axis=-1) > 0).astype(float)
    assert np.array_equal(at_k, uniform)
    taken = np.arange(len(ends)) < rounds[..., None]
    assert np.array_equal(succ, np.where(taken, draws, 0))  # the adaptive run saw the uniform run's first rounds
    assert ends[rounds - 1].sum(axis=1).mean() < 32 * 64
    with pytest.raises(ValueError, match="shape"):
        simulate(p, ends, RULES[name], 299, rng, draws=draws)


def test_floor_is_the_mean_of_min_first_success_and_k_and_no_rule_goes_below_it():
    rng = np.random.default_rng(2)
    p = np.array([0.0, 0.01, 0.2, 0.9])
    K = 50
    first = rng.geometric(np.where(p > 0, p, 1e-300), size=(200_000, 4))  # the first success's index, 1-based
    mc = np.minimum(first, K).mean(axis=0).sum()
    assert floor_samples(p, K) == pytest.approx(mc, rel=0.01)
    assert floor_samples(np.zeros(3), K) == 3 * K
    ends = schedule(1, 2, K)
    rounds, _ = simulate(p, ends, RULES["successes s=1"], 4000, rng)
    assert ends[rounds - 1].sum(axis=1).mean() >= floor_samples(p, K) * 0.99
