"""Scaling-law fits recover known parameters within their intervals; cost and difficulty bins."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from ttscale.analysis.cost import cost_at, model_dims, problem_costs
from ttscale.analysis.difficulty import absolute_bins, compute_optimal, quantile_bins, two_folds
from ttscale.analysis.fits import beta_pass_at_k, fit_beta, fit_power_law, power_law
from ttscale.analysis.passk import pass_at_k_matrix
from ttscale.analysis.stats import k_grid, resample_counts


def noisy_fit(a: float, b: float, seed: int, sd: float = 0.004, reps: int = 100) -> dict:
    """Observed curve = truth + noise; replicates = the fitted curve + fresh noise (parametric bootstrap)."""
    rng = np.random.default_rng(seed)
    k = k_grid(1024).astype(float)
    y = power_law(k, a, b) + rng.normal(0, sd, len(k))
    first = fit_power_law(k, y)
    replicates = power_law(k, first["a"], first["b"])[None, :] + rng.normal(0, sd, (reps, len(k)))
    return fit_power_law(k, y, replicates)


def test_power_law_recovers_known_parameters():
    fit = noisy_fit(-1.2, -0.4, seed=0)
    assert fit["ok"] and fit["n_points"] == 11
    assert fit["a_lo"] <= -1.2 <= fit["a_hi"]
    assert fit["b_lo"] <= -0.4 <= fit["b_hi"]
    assert fit["a"] == pytest.approx(-1.2, rel=0.1) and fit["b"] == pytest.approx(-0.4, rel=0.1)
    assert fit["r2"] > 0.99 and fit["rmse"] < 0.01


def test_power_law_intervals_are_calibrated():
    """Over 20 noisy data sets the 95 % intervals should cover the truth most of the time."""
    hits = [noisy_fit(-2.0, -0.3, seed=s, reps=60) for s in range(20)]
    cover_a = np.mean([f["a_lo"] <= -2.0 <= f["a_hi"] for f in hits])
    cover_b = np.mean([f["b_lo"] <= -0.3 <= f["b_hi"] for f in hits])
    assert cover_a >= 0.8 and cover_b >= 0.8, (cover_a, cover_b)


def test_power_law_needs_points():
    fit = fit_power_law(np.array([1.0, 2.0]), np.array([0.1, 0.2]))
    assert not fit["ok"] and "need 3" in fit["note"]
    zero = fit_power_law(np.array([1.0, 2.0, 4.0]), np.zeros(3))
    assert not zero["ok"]


def test_beta_fit_recovers_known_parameters():
    rng = np.random.default_rng(5)
    alpha, beta, P, n = 0.5, 2.0, 3000, 40
    p = rng.beta(alpha, beta, P)
    c = rng.binomial(n, p)
    counts = resample_counts(P, 60, np.random.default_rng(1))
    fit = fit_beta(c, np.full(P, n), counts)
    assert fit["ok"]
    assert fit["alpha_lo"] <= alpha <= fit["alpha_hi"] and fit["beta_lo"] <= beta <= fit["beta_hi"]
    assert fit["alpha"] == pytest.approx(alpha, rel=0.1) and fit["beta"] == pytest.approx(beta, rel=0.15)
    # the predictor agrees with the unbiased estimator on the sample at the ks it saw
    ks = np.array([1, 4, 16, 40])
    observed = pass_at_k_matrix(np.full(P, n), c, ks).mean(axis=0)
    np.testing.assert_allclose(beta_pass_at_k(fit["alpha"], fit["beta"], ks), observed, atol=0.02)


def test_beta_pass_at_k_is_the_expectation():
    a, b = 0.7, 1.3
    rng = np.random.default_rng(0)
    p = rng.beta(a, b, 400_000)
    for k in (1, 3, 10, 100):
        assert beta_pass_at_k(a, b, np.array([k]))[0] == pytest.approx(np.mean(1 - (1 - p) ** k), abs=3e-3)


def test_flops_formula_by_hand():
    dims = {"ok": True, "n_params": 100, "n_layers": 2, "d_model": 4}
    prompt = np.array([[3.0, 3.0]])
    comp = np.array([[2.0, 4.0]])
    c = problem_costs(prompt, comp, dims, {"input_per_mtok": 1e6, "output_per_mtok": 2e6})
    # sum over positions of 2 * (N + 2 * L * d * context)
    assert c["prompt_flops"][0] == sum(2 * (100 + 16 * t) for t in range(1, 4))
    want = np.mean([sum(2 * (100 + 16 * t) for t in range(4, 4 + C)) for C in (2, 4)])
    assert c["decode_flops"][0] == pytest.approx(want)
    assert c["prompt_dollars"][0] == pytest.approx(3.0) and c["decode_dollars"][0] == pytest.approx(6.0)
    once = cost_at(c["prompt_flops"], c["decode_flops"], np.array([1, 10]), True)[0]
    each = cost_at(c["prompt_flops"], c["decode_flops"], np.array([1, 10]), False)[0]
    assert once[1] - once[0] == pytest.approx(9 * want) and each[1] == pytest.approx(10 * each[0])


def write_safetensors(path: Path, shapes: dict[str, list[int]]) -> None:
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + b"\0" * offset)


def test_model_dims_from_folder_and_overrides(tmp_path):
    cfg = {"hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
           "intermediate_size": 16, "vocab_size": 10, "hidden_act": "silu", "tie_word_embeddings": True}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    estimate = model_dims("m", {"path": str(tmp_path)})
    assert estimate["ok"] and "estimate" in estimate["source"]
    # the same architecture as tensors: the header count must agree with the config estimate
    hd = 4
    shapes = {"embed": [10, 8], "norm": [8]}
    for i in range(2):
        shapes |= {f"{i}.q": [8, 2 * hd], f"{i}.k": [8, hd], f"{i}.v": [8, hd], f"{i}.o": [2 * hd, 8],
                   f"{i}.gate": [8, 16], f"{i}.up": [8, 16], f"{i}.down": [16, 8], f"{i}.n1": [8], f"{i}.n2": [8]}
    write_safetensors(tmp_path / "model.safetensors", shapes)
    exact = model_dims("m", {"path": str(tmp_path)})
    assert "safetensors" in exact["source"]
    assert exact["n_params"] == sum(int(np.prod(s)) for s in shapes.values()) == estimate["n_params"]
    assert exact["n_layers"] == 2 and exact["d_model"] == 8
    over = model_dims("m", {"path": str(tmp_path), "flops": {"n_params": 7e9}})
    assert over["n_params"] == 7e9 and over["n_layers"] == 2
    api = model_dims("api", {"path": "org/model"})
    assert not api["ok"]


def test_quantile_and_absolute_bins():
    pass1 = np.array([0.95, 0.9, 0.6, 0.4, 0.3, 0.2, 0.05, 0.0, 0.0, 0.0])
    q = quantile_bins(pass1, 5)
    assert q[0] == "1" and q[-1] == "5"
    assert len(set(q[pass1 == 0.0])) == 1  # ties share a bin
    assert list(absolute_bins(pass1)) == ["easy"] * 3 + ["medium"] * 3 + ["hard"] * 4
    even = quantile_bins(np.linspace(1, 0, 50), 5)
    assert [int((even == str(b)).sum()) for b in range(1, 6)] == [10] * 5


def test_compute_optimal_prefers_per_bin_choices_when_they_differ():
    P = 40
    bins = np.array(["easy"] * 20 + ["hard"] * 20, dtype=object)
    a = np.r_[np.full(20, 0.9), np.full(20, 0.1)]  # good on easy
    b = np.r_[np.full(20, 0.6), np.full(20, 0.5)]  # good on hard, and the better single choice
    fold = two_folds(P, np.random.default_rng(0))
    counts = resample_counts(P, 200, np.random.default_rng(1))
    res = compute_optimal({"A": a, "B": b}, bins, fold, counts)
    assert res["choices"] == {"easy": ["A", "A"], "hard": ["B", "B"]}
    assert res["single_choice"] == ["B", "B"]
    assert res["per_bin"] == pytest.approx(0.7) and res["single"] == pytest.approx(0.55)
    assert res["gain_lo"] > 0
    same = compute_optimal({"A": a, "B": a}, bins, fold, counts)
    assert same["gain"] == 0 and same["choices"]["easy"] == ["A", "A"]
