"""Power analysis (ttscale.analysis.power): predicted power against repeated simulated experiments,
the pilot reader on real shard files, and the `ttscale power` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import norm

import ttscale.plan  # noqa: F401  (imports the stages, which register their config checks)
from ttscale.analysis.passk import pass_at_k_matrix
from ttscale.analysis.power import Pilot, analyze_comparison, beta_quantile, price, read_pilot, run_power
from ttscale.cli import main
from ttscale.config import load_config
from ttscale.errors import ConfigError, DataError
from ttscale.testing.synthetic import SyntheticSpec, write_run

# The true world: per-problem rates of a ~ Beta(0.5, 2), of b ~ Beta(0.6, 1.9), coupled by a Gaussian
# copula with correlation 0.85 (b is a somewhat stronger model on the same problems).
A_AB, B_AB, RHO = (0.5, 2.0), (0.6, 1.9), 0.85


def _world(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    z0 = rng.standard_normal(shape)
    z1 = RHO * z0 + np.sqrt(1 - RHO**2) * rng.standard_normal(shape)
    return beta_quantile(norm.cdf(z0), *A_AB), beta_quantile(norm.cdf(z1), *B_AB)


def _true_difference(k: int) -> float:
    pa, pb = _world(np.random.default_rng(99), (400_000,))
    return float(np.mean((1 - pa) ** k - (1 - pb) ** k))


def _experiments(rng: np.random.Generator, problems: int, samples: int, k: int, runs: int) -> float:
    """Rejection rate of `runs` independent experiments in the true world (paired two-sided z test)."""
    pa, pb = _world(rng, (runs, problems))
    flat = np.full(runs * problems, samples)
    va = pass_at_k_matrix(flat, rng.binomial(samples, pa).ravel(), [k])[:, 0].reshape(runs, problems)
    vb = pass_at_k_matrix(flat, rng.binomial(samples, pb).ravel(), [k])[:, 0].reshape(runs, problems)
    d = vb - va
    mean, se = d.mean(axis=1), d.std(axis=1, ddof=1) / np.sqrt(problems)
    reject = np.where(se > 0, np.abs(mean) > norm.ppf(0.975) * se, mean != 0)
    return float(np.mean(reject))


def test_predicted_power_matches_rejection_rate_of_simulated_experiments():
    rng = np.random.default_rng(7)
    pilot_problems, pilot_samples = 2000, 64  # a large pilot: the check is of the method, not of pilot noise
    pa, pb = _world(rng, (pilot_problems,))
    ids = np.array([f"q{i}" for i in range(pilot_problems)])
    n = np.full(pilot_problems, pilot_samples)
    a = Pilot("a", "d", "s", ids, n, rng.binomial(pilot_samples, pa), 100.0, 50.0, None)
    b = Pilot("b", "d", "s", ids, n, rng.binomial(pilot_samples, pb), 100.0, 50.0, None)
    checked = 0
    for k, designs in ((4, [(100, 8), (150, 16)]), (16, [(200, 16), (100, 32)])):
        diff = _true_difference(k)
        rows = analyze_comparison({"name": f"k{k}", "k": k, "difference": diff}, a, b,
                                  {"problems": sorted({p for p, _ in designs}),
                                   "samples": sorted({s for _, s in designs}), "alpha": 0.05,
                                   "simulations": 3000}, seed=0)
        for r in rows:
            if (r["problems"], r["samples"]) not in designs:
                continue
            actual = _experiments(rng, r["problems"], r["samples"], k, 3000)
            assert 0.15 < actual < 0.95, "designs chosen where power is informative"
            for method in ("parametric", "nonparametric"):
                assert abs(r[f"power_{method}"] - actual) <= 0.05, (k, r, method, actual)
            checked += 1
    assert checked == 4


def test_power_grows_with_problems_and_samples_and_prices_designs():
    rng = np.random.default_rng(3)
    pa, pb = _world(rng, (200,))
    ids = np.array([f"q{i}" for i in range(200)])
    n = np.full(200, 32)
    a = Pilot("a", "d", "s", ids, n, rng.binomial(32, pa), 120.0, 80.0, 40.0)
    b = Pilot("b", "d", "s", ids, n, rng.binomial(32, pb), 120.0, 60.0, 20.0)
    rows = analyze_comparison({"name": "x", "k": 8}, a, b, {"problems": [20, 200], "samples": [8, 32],
                                                             "alpha": 0.05, "simulations": 1000}, seed=1)
    power = {(r["problems"], r["samples"]): r["power_parametric"] for r in rows}
    assert power[(200, 8)] > power[(20, 8)] and power[(200, 32)] > power[(20, 32)]
    cost = price(a, b, 10, 4)
    assert cost["total_samples"] == 80
    assert cost["tokens"] == pytest.approx(40 * (200 + 180))
    assert cost["gpu_hours"] == pytest.approx(40 * (80 / 40 + 60 / 20) / 3600)
    # a design with more samples than the pilot has cannot be resampled: NaN, not a guess
    more = analyze_comparison({"name": "x", "k": 8, "difference": 0.05}, a, b,
                              {"problems": [20], "samples": [64], "alpha": 0.05, "simulations": 200}, seed=1)
    assert np.isnan(more[0]["power_nonparametric"]) and 0 <= more[0]["power_parametric"] <= 1


def test_unreachable_difference_is_a_config_error():
    ids = np.array(["q0", "q1", "q2", "q3"])
    n = np.full(4, 10)
    a = Pilot("a", "d", "s", ids, n, np.array([1, 2, 0, 5]), 1.0, 1.0, None)
    b = Pilot("b", "d", "s", ids, n, np.array([2, 3, 1, 5]), 1.0, 1.0, None)
    with pytest.raises(ConfigError, match="power.comparisons.big.*difference of -0.900"):
        analyze_comparison({"name": "big", "k": 2, "difference": -0.9}, a, b,
                           {"problems": [4], "samples": [4], "alpha": 0.05, "simulations": 100}, seed=0)


def _pilot_experiment(tmp_path: Path) -> Path:
    exp = tmp_path / "results" / "pilot"
    rates = np.random.default_rng(5).beta(0.5, 2.0, 60)
    write_run(exp, SyntheticSpec(n_problems=60, samples=32, block_size=16, model="small", dataset="math",
                                 sampling="default-aaaa0000", true_p=rates, scorers=()))
    write_run(exp, SyntheticSpec(n_problems=60, samples=32, block_size=16, model="large", dataset="math",
                                 sampling="default-bbbb0000", true_p=np.minimum(rates * 1.8, 1.0), scorers=(),
                                 seed=1))
    return exp


def test_read_pilot_counts_every_verified_shard(tmp_path):
    exp = _pilot_experiment(tmp_path)
    pilot = read_pilot(exp, "small", "math")
    assert len(pilot.problem_id) == 60 and set(pilot.n) == {32}
    # an unfinished pilot: a block without verdicts is left out, the rest still counts
    missing = next((exp / "verdicts").rglob("*s000016-000032.parquet"))
    missing.unlink()
    partial = read_pilot(exp, "small", "math", sampling="default")
    assert set(partial.n) == {16} and np.all(partial.c <= pilot.c)
    with pytest.raises(DataError, match="model=nobody"):
        read_pilot(exp, "nobody", "math")


def test_power_command_writes_tables(tmp_path, monkeypatch, capsys):
    exp = _pilot_experiment(tmp_path)
    cfg = yaml.safe_load((Path(__file__).parents[1] / "config" / "config.yaml").read_text())
    cfg.update(results=str(exp.parent), experiment="pilot", power={
        "comparisons": [{"name": "size", "a": {"model": "small", "dataset": "math"},
                         "b": {"model": "large", "dataset": "math"}, "k": 8}],
        "problems": [30, 120], "samples": [8, 16], "simulations": 500})
    path = tmp_path / "power.yaml"
    path.write_text(yaml.safe_dump(cfg))
    monkeypatch.chdir(Path(__file__).parents[1])
    assert main(["power", "--configfile", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Power of each design" in out and "size" in out
    csv = (exp / "power" / "power.csv").read_text().splitlines()
    assert len(csv) == 1 + 4 and csv[0].startswith("comparison,bin,k,difference,problems")
    assert (exp / "power" / "power_designs.md").exists()
    cfg = load_config(path)
    rows, best = run_power(cfg, exp)
    assert {r["problems"] for r in rows} == {30, 120}
    assert {b["method"] for b in best} == {"parametric", "nonparametric"}
    cfg["power"]["comparisons"][0]["b"]["model"] = "absent"
    with pytest.raises(DataError, match="model=absent"):
        run_power(cfg, exp)


def test_workflow_plans_the_power_tables_from_the_named_runs(workdir):
    from workflow_utils import planned, snakemake, write_config

    cfg = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    cfg["power"] = {"comparisons": [{"name": "tasks", "a": {"model": "smollm2", "dataset": "arithmetic"},
                                     "b": {"model": "smollm2", "dataset": "humaneval"}, "k": 4}]}
    path = write_config(workdir, cfg)
    jobs = planned(workdir, path)
    assert any(o.endswith("report/tables/power.csv") for o in jobs["power"])
    assert "verify" in jobs  # the pilot's verdicts come first
    cfg["power"]["comparisons"][0]["b"]["model"] = "nobody"
    out = snakemake(workdir, write_config(workdir, cfg, "bad.yaml"), "-n", check=False)
    assert "power.comparisons.tasks.b: no planned run of model 'nobody'" in out


def test_runs_on_two_datasets_are_compared_unpaired():
    rng = np.random.default_rng(4)
    pa, pb = _world(rng, (300,))
    n = np.full(300, 32)
    a = Pilot("m", "d1", "s", np.array([f"a{i}" for i in range(300)]), n, rng.binomial(32, pa), 1.0, 1.0, None)
    b = Pilot("m", "d2", "s", np.array([f"b{i}" for i in range(300)]), n, rng.binomial(32, pb), 1.0, 1.0, None)
    settings = {"problems": [100], "samples": [16], "alpha": 0.05, "simulations": 2000}
    unpaired = analyze_comparison({"name": "x", "k": 4}, a, b, settings, seed=2)[0]
    # the same problems paired (b's ids renamed to a's): a paired test is more powerful
    b_same = Pilot("m2", "d1", "s", a.problem_id, n, b.c, 1.0, 1.0, None)
    paired = analyze_comparison({"name": "x", "k": 4}, a, b_same, settings, seed=2)[0]
    for method in ("parametric", "nonparametric"):
        assert 0.05 < unpaired[f"power_{method}"] < paired[f"power_{method}"]
