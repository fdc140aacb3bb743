"""Estimators against brute-force enumeration of all k-subsets on small n, and pass@k at n = 10,000."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

import numpy as np
import pytest

from ttscale.analysis.estimators import (
    best_of_k,
    group_labels,
    vote_at_1,
    vote_at_n,
    vote_exact,
    vote_exact_cost,
    vote_mc,
)
from ttscale.analysis.passk import pass_at_k, pass_at_k_matrix


def brute_pass(n: int, c: int, k: int) -> float:
    correct = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(correct[i] for i in s) for s in subsets) / len(subsets)


def brute_best(scores, correct, k):
    total = 0.0
    subsets = list(itertools.combinations(range(len(scores)), k))
    for s in subsets:
        vals = [(-np.inf if np.isnan(scores[i]) else scores[i]) for i in s]
        top = max(vals)
        tied = [i for i, v in zip(s, vals, strict=True) if v == top]
        total += sum(correct[i] for i in tied) / len(tied)
    return total / len(subsets)


def brute_vote(labels, correct, k, weights=None):
    """Vote over every k-subset: the heaviest group wins, ties uniform, group correctness = fraction."""
    groups = {g for g in labels if g >= 0}
    frac = {g: np.mean([c for lab, c in zip(labels, correct, strict=True) if lab == g]) for g in groups}
    total = 0.0
    subsets = list(itertools.combinations(range(len(labels)), k))
    for s in subsets:
        acc: dict[int, float] = {}
        for i in s:
            if labels[i] >= 0:
                acc[labels[i]] = acc.get(labels[i], 0.0) + (1.0 if weights is None else weights[i])
        if not acc:
            continue
        top = max(acc.values())
        tied = [g for g, v in acc.items() if v == top]
        total += sum(frac[g] for g in tied) / len(tied)
    return total / len(subsets)


def test_pass_at_k_matches_enumeration():
    for n in range(1, 9):
        for c in range(n + 1):
            for k in range(1, n + 1):
                want = brute_pass(n, c, k)
                assert pass_at_k(n, c, k) == pytest.approx(want, abs=1e-12)
                got = pass_at_k_matrix(np.array([n]), np.array([c]), np.array([k]))[0, 0]
                assert got == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("c", [0, 1, 2, 7, 50, 500, 5000, 9990, 10000])
def test_pass_at_k_stable_at_n_10000(c):
    n = 10_000
    ks = np.array([1, 2, 3, 10, 64, 100, 1000, 4096, 9999, 10_000])
    got = pass_at_k_matrix(np.array([n]), np.array([c]), ks)[0]
    for k, g in zip(ks, got, strict=True):
        exact = 1 - Fraction(comb(n - c, int(k)), comb(n, int(k)))
        want = float(exact)
        assert np.isfinite(g)
        assert g == pytest.approx(want, rel=1e-9, abs=1e-300 if want else 1e-15)
        assert pass_at_k(n, c, int(k)) == pytest.approx(want, rel=1e-9, abs=1e-15)


def test_pass_at_k_rejects_k_above_n():
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)
    assert np.isnan(pass_at_k_matrix(np.array([3]), np.array([1]), np.array([4]))[0, 0])


def test_best_of_k_exact_with_ties_and_unscored():
    rng = np.random.default_rng(1)
    for trial in range(30):
        n = int(rng.integers(2, 10))
        scores = rng.integers(0, 4, n).astype(float)  # few values: many ties
        scores[rng.random(n) < 0.2] = np.nan
        correct = rng.random(n) < 0.4
        ks = np.arange(1, n + 1)
        got = best_of_k(scores[None, :], correct[None, :], ks)[0]
        want = [brute_best(scores, correct, int(k)) for k in ks]
        np.testing.assert_allclose(got, want, atol=1e-12, err_msg=f"trial {trial}: {scores} {correct}")


def test_best_of_k_many_problems_at_once():
    rng = np.random.default_rng(2)
    scores = np.round(rng.random((5, 7)), 1)
    correct = rng.random((5, 7)) < 0.5
    got = best_of_k(scores, correct, np.array([1, 3, 7]))
    for i in range(5):
        for j, k in enumerate([1, 3, 7]):
            assert got[i, j] == pytest.approx(brute_best(scores[i], correct[i], k), abs=1e-12)


def random_problem(rng, n):
    labels = rng.integers(-1, 4, n)  # -1: no answer
    correct = np.array([lab == 0 or (lab == 2 and rng.random() < 0.5) for lab in labels])  # group 2 is mixed
    return labels, correct


def test_vote_exact_matches_enumeration():
    rng = np.random.default_rng(3)
    for trial in range(40):
        n = int(rng.integers(1, 10))
        keys, correct = random_problem(rng, n)
        labels, sizes, corr = group_labels(keys[None, :], correct[None, :])
        ks = np.arange(1, n + 1)
        got = vote_exact(sizes[0], corr[0], n, ks)
        want = [brute_vote(labels[0], correct, int(k)) for k in ks]
        np.testing.assert_allclose(got, want, atol=1e-12, err_msg=f"trial {trial}: {keys} {correct}")
        assert vote_at_1(labels, corr)[0] == pytest.approx(want[0], abs=1e-12)
        assert vote_at_n(labels, corr, None)[0] == pytest.approx(want[-1], abs=1e-12)


def test_vote_exact_is_a_probability_at_moderate_n():
    sizes = np.array([30, 25, 5, 3, 1])
    corr = np.array([1.0, 0.0, 0.0, 0.0, 0.0])
    n = 70  # 6 samples without an answer
    got = vote_exact(sizes, corr, n, np.array([1, 5, 20, 70]))
    assert got[0] == pytest.approx(30 / 70)
    assert np.all((got >= 0) & (got <= 1))
    assert got[-1] == pytest.approx(1.0)  # the full set: group 0 has the plurality
    assert vote_exact_cost(sizes, corr, 70) > 0


def test_vote_mc_agrees_with_enumeration_within_its_error():
    rng = np.random.default_rng(4)
    P, n = 6, 9
    keys = np.stack([random_problem(rng, n)[0] for _ in range(P)])
    correct = (keys == 0) | ((keys == 2) & (rng.random((P, n)) < 0.5))
    weights = np.round(rng.random((P, n)), 1)
    labels, sizes, corr = group_labels(keys, correct)
    ks = np.array([1, 2, 4, 9])
    (maj, maj_se), (wv, wv_se) = vote_mc(labels, corr, ks, [None, weights], 4000, np.random.default_rng(0))
    for i in range(P):
        for j, k in enumerate(ks):
            want = brute_vote(labels[i], correct[i], int(k))
            assert abs(maj[i, j] - want) <= 5 * maj_se[i, j] + 1e-9, (i, k)
            want_w = brute_vote(labels[i], correct[i], int(k), weights[i])
            assert abs(wv[i, j] - want_w) <= 5 * wv_se[i, j] + 1e-9, (i, k)
    exact = np.array([vote_exact(sizes[i], corr[i], n, ks) for i in range(P)])
    assert np.abs(exact - maj).max() < 0.05
    # k = n has no randomness: the Monte Carlo value is exact and its error zero
    np.testing.assert_allclose(maj[:, -1], vote_at_n(labels, corr, None), atol=1e-12)
    np.testing.assert_allclose(wv[:, -1], vote_at_n(labels, corr, weights), atol=1e-12)
    assert np.all(maj_se[:, -1] < 1e-9)


def test_group_labels_large_code_space_path():
    keys = np.array([[5_000_000, 7, 5_000_000, -1], [7, 7, 3, 3]])
    correct = np.array([[True, False, True, False], [False, False, True, False]])
    for codes in (keys, np.where(keys >= 0, keys % 1000, -1)):  # the sparse and the direct path
        labels, sizes, corr = group_labels(codes, correct)
        for i in range(2):
            same_key = keys[i][:, None] == keys[i][None, :]
            same_label = labels[i][:, None] == labels[i][None, :]
            np.testing.assert_array_equal(same_key, same_label)
            assert (labels[i] == -1).tolist() == (keys[i] == -1).tolist()
        assert sorted(sizes[0].tolist()) == [1, 2] and sorted(sizes[1].tolist()) == [2, 2]
        assert sorted(corr[0].tolist()) == [0.0, 1.0] and sorted(corr[1].tolist()) == [0.0, 0.5]
