"""One run's analysis end to end on synthetic shards: curves, bins, fits, determinism, Monte Carlo."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from ttscale.aggregate import aggregate_run
from ttscale.analysis.data import load_run
from ttscale.analysis.run import analyze_run
from ttscale.errors import DataError
from ttscale.testing.synthetic import SyntheticSpec, write_run

SPEC = SyntheticSpec(n_problems=30, samples=64, block_size=32, scorers=("orm", "prm"), seed=4)
TABLES = ("values", "curves", "costs", "fits", "extrapolation", "optimal")
MODEL = {"flops": {"n_params": 1e9, "n_layers": 16, "d_model": 2048},
         "price": {"input_per_mtok": 0.1, "output_per_mtok": 0.3}}


@pytest.fixture(scope="module")
def agg(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("run")
    f = write_run(root / "exp", SPEC)
    aggregate_run(samples=f["samples"], verdicts=f["verdicts"], scores=f["scores"], problems=f["problems"],
                  out_samples=root / "agg" / "samples.parquet", out_problems=root / "agg" / "problems.parquet",
                  model=SPEC.model, dataset=SPEC.dataset, sampling=SPEC.sampling, samples_per_problem=SPEC.samples)
    return root


def analyze(root: Path, out: str, settings: dict | None = None) -> dict[str, list[dict]]:
    outs = {t: root / out / f"{t}.parquet" for t in TABLES}
    analyze_run(root / "agg" / "samples.parquet", root / "agg" / "problems.parquet", outs,
                {"bootstrap": 200, "fit": {"bootstrap": 30}, **(settings or {})}, MODEL, seed=7)
    return {t: pq.read_table(p).to_pylist() for t, p in outs.items()}


@pytest.fixture(scope="module")
def tables(agg) -> dict[str, list[dict]]:
    return analyze(agg, "an")


def curve(rows, selector, scheme="all", bin="all"):
    pts = sorted((r for r in rows if r["selector"] == selector and r["scheme"] == scheme and r["bin"] == bin
                  and r["metric"] in ("coverage", "accuracy")), key=lambda r: r["k"])
    return pts


def test_coverage_curve(tables, agg):
    probs = pq.read_table(agg / "agg" / "problems.parquet").to_pylist()
    cov = curve(tables["curves"], "oracle")
    assert [r["k"] for r in cov] == [1, 2, 4, 8, 16, 32, 64]
    assert cov[0]["value"] == pytest.approx(np.mean([p["pass_at_1"] for p in probs]))
    assert cov[-1]["value"] == pytest.approx(np.mean([p["n_correct"] > 0 for p in probs]))
    assert all(a["value"] <= b["value"] + 1e-12 for a, b in itertools.pairwise(cov))
    assert all(r["ci_lo"] <= r["value"] <= r["ci_hi"] for r in cov)
    assert cov[0]["flops"] > 0 and cov[-1]["flops"] > cov[0]["flops"] and cov[-1]["dollars"] > 0


def test_selectors_and_their_bounds(tables):
    names = {r["selector"] for r in tables["curves"] if r["metric"] == "accuracy"}
    assert {"vote", "best:orm", "best:prm", "best:prm:last", "best:prm:min", "best:prm:prod", "best:prm:mean",
            "best:logprob", "best:mean_logprob", "wvote:orm", "wvote:prm"} == names
    cov = {r["k"]: r["value"] for r in curve(tables["curves"], "oracle")}
    for s in names:
        pts = curve(tables["curves"], s)
        assert pts[0]["value"] == pytest.approx(cov[1])  # one sample: every selector picks it
        assert all(r["value"] <= cov[r["k"]] + 1e-9 for r in pts)  # nothing beats the oracle
    # the synthetic orm is informative: best-of-k improves with k
    orm = curve(tables["curves"], "best:orm")
    assert orm[-1]["value"] > orm[0]["value"] + 0.05


def test_difficulty_bins(tables):
    rows = tables["curves"]
    q = {r["bin"]: r["n_problems"] for r in rows if r["scheme"] == "quantile" and r["selector"] == "oracle"}
    assert sorted(q) == ["1", "2", "3", "4", "5"] and sum(q.values()) == SPEC.n_problems
    easy = curve(rows, "oracle", "quantile", "1")
    hard = curve(rows, "oracle", "quantile", "5")
    assert easy[0]["value"] > hard[0]["value"]
    absolute = {r["bin"] for r in rows if r["scheme"] == "absolute"}
    assert absolute <= {"easy", "medium", "hard"}
    assert {r["bin"] for r in rows if r["scheme"] == "level"} == set(SPEC.levels)


def test_per_problem_values_and_costs(tables, agg):
    vals = tables["values"]
    selectors = {r["selector"] for r in vals}
    assert len(vals) == len(selectors) * 7 * SPEC.n_problems
    costs = tables["costs"]
    assert len(costs) == SPEC.n_problems and all(c["prompt_flops"] > 0 for c in costs)


def test_fits_extrapolation_and_optimal(tables):
    fits = {r["fit_on"]: r for r in tables["fits"]}
    assert set(fits) == {"all", "holdout"}
    assert fits["all"]["a"] < 0 and fits["all"]["b"] < 0 and fits["all"]["r2"] > 0.9
    assert fits["holdout"]["m"] == 6 and fits["all"]["alpha"] > 0
    extra = tables["extrapolation"]
    assert {r["predictor"] for r in extra} == {"power_law", "beta"}
    assert sorted({r["k"] for r in extra}) == [8, 16, 32, 64]
    assert all(abs(r["error"]) < 0.3 for r in extra)
    opt = tables["optimal"]
    assert {r["scheme"] for r in opt} == {"quantile", "absolute", "level"}
    assert all(r["strategies"] == 11 for r in opt)
    lines = {r["selector"] for r in tables["curves"] if r["metric"] in ("coverage_fit", "coverage_extrapolated")}
    assert lines == {"power_law", "beta"}


def test_rerun_is_identical(agg, tables):
    again = analyze(agg, "an2")
    for t in TABLES:
        assert again[t] == tables[t] or _nan_equal(again[t], tables[t]), t


def _nan_equal(a, b):
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        for k in x:
            u, v = x[k], y[k]
            if not (u == v or (isinstance(u, float) and isinstance(v, float) and np.isnan(u) and np.isnan(v))):
                return False
    return True


def test_monte_carlo_vote_agrees_with_exact(agg, tables):
    mc = analyze(agg, "mc", {"vote": {"exact_max_cost": 0, "max_draws": 400}})
    exact = {r["k"]: r for r in curve(tables["curves"], "vote")}
    for r in curve(mc["curves"], "vote"):
        e = exact[r["k"]]
        assert e["mc_se"] == 0
        assert abs(r["value"] - e["value"]) <= 5 * r["mc_se"] + 1e-9, (r["k"], r["value"], e["value"], r["mc_se"])
    assert any(r["mc_se"] > 0 for r in curve(mc["curves"], "vote"))


def test_selector_patterns(agg):
    only = analyze(agg, "only", {"selectors": ["vote", "best:orm"], "exclude_selectors": []})
    assert {r["selector"] for r in only["curves"]} - {"oracle", "power_law", "beta"} == {"vote", "best:orm"}


def test_load_checks_holes(agg, tmp_path):
    t = pq.read_table(agg / "agg" / "samples.parquet")
    pq.write_table(t.slice(1), tmp_path / "samples.parquet")
    with pytest.raises(DataError, match="expected 30 problems x 64 samples"):
        load_run(tmp_path / "samples.parquet", agg / "agg" / "problems.parquet")
    data = load_run(agg / "agg" / "samples.parquet", agg / "agg" / "problems.parquet")
    assert data.correct.shape == (30, 64) and set(data.scores) >= {"orm", "prm", "prm:min", "logprob"}
    assert "orm:last" not in set(data.scores)  # an outcome scorer's empty step columns are no selectors
