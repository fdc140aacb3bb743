"""The imperfect-verifier analysis (issue 23) on synthetic runs whose extended verdicts are known: false
positives counted per problem and run, inflation of coverage, the base verifier's curve and ceiling, old
verdict shards without correct_extended aggregated beside new ones, and the report's figure and tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ttscale.aggregate import aggregate_run
from ttscale.analysis.imperfect import imperfect_experiment, imperfect_run, wilson
from ttscale.analysis.passk import pass_at_k
from ttscale.report.imperfect import make_imperfect_report, report_files
from ttscale.testing.synthetic import SyntheticSpec, write_run

SPEC = SyntheticSpec(n_problems=12, samples=32, block_size=16, problems_per_block=6, scorers=("orm",))


def _run(tmp: Path, old_shard: bool = True) -> tuple[Path, Path, dict]:
    """A synthetic run whose verdicts get correct_extended: every third base pass of problems 0-5 fails the
    extended tests; the shard of problems 6-11, samples 0-15 is written as an old shard without the column."""
    files = write_run(tmp / "exp", SPEC)
    truth: dict[tuple[str, int], tuple[bool, bool | None]] = {}
    for path in files["verdicts"]:
        t = pq.read_table(path)
        pids, idx, ok = (t[c].to_pylist() for c in ("problem_id", "sample_index", "correct"))
        old = old_shard and "p00006" in Path(path).name and "s000000" in Path(path).name
        ext = []
        for p, i, c in zip(pids, idx, ok, strict=True):
            number = int(p.rsplit("/", 1)[-1])
            e = None if old else (c and not (number < 6 and i % 3 == 0))
            ext.append(e)
            truth[(p, i)] = (c, e)
        t = t.drop(["correct_extended"])
        if not old:
            t = t.append_column("correct_extended", pa.array(ext, pa.bool_()))
        pq.write_table(t, path)
    out = tmp / "agg"
    aggregate_run(samples=files["samples"], verdicts=files["verdicts"], scores=files["scores"],
                  problems=files["problems"], out_samples=out / "samples.parquet",
                  out_problems=out / "problems.parquet", model=SPEC.model, dataset=SPEC.dataset,
                  sampling=SPEC.sampling, samples_per_problem=SPEC.samples)
    return out / "samples.parquet", out / "problems.parquet", truth


def test_false_positives_inflation_and_ceiling(tmp_path):
    samples, problems, truth = _run(tmp_path)
    agg = pq.read_table(samples).to_pydict()
    got = {(p, i): e for p, i, e in zip(agg["problem_id"], agg["sample_index"], agg["correct_extended"], strict=True)}
    assert got == {k: e for k, (_, e) in truth.items()}  # old shard: NULL, the others as written
    curves, rows, summary = imperfect_run(samples, problems, {"bootstrap": 200}, seed=0)
    n = SPEC.samples
    pids = sorted({p for p, _ in truth})
    cb = {p: sum(truth[(p, i)][0] for i in range(n)) for p in pids}
    # a NULL extended verdict counts as the base one
    ce = {p: sum(truth[(p, i)][0] if truth[(p, i)][1] is None else truth[(p, i)][1] for i in range(n)) for p in pids}
    by = {r["problem_id"]: r for r in rows}
    for p in pids:
        r = by[p]
        assert (r["base_passes"], r["extended_passes"], r["false_positives"]) == (cb[p], ce[p], cb[p] - ce[p])
        if cb[p]:
            assert r["fpr"] == pytest.approx((cb[p] - ce[p]) / cb[p]) and r["fpr_lo"] <= r["fpr"] <= r["fpr_hi"]
    has = [p for p in pids if by[p]["extended"]]
    assert len(has) == 12  # every problem has extended verdicts in at least one shard
    assert summary["false_positives"] == sum(cb[p] - ce[p] for p in has) > 0
    assert summary["fpr"] == pytest.approx(summary["false_positives"] / sum(cb[p] for p in has))
    assert summary["fpr_lo"] <= summary["fpr"] <= summary["fpr_hi"]
    P = len(pids)
    cov_b = np.mean([pass_at_k(n, cb[p], n) for p in pids])
    cov_e = np.mean([pass_at_k(n, ce[p], n) for p in pids])
    assert summary["coverage_base"] == pytest.approx(cov_b) and summary["coverage_extended"] == pytest.approx(cov_e)
    assert summary["inflation"] == pytest.approx(cov_b - cov_e)
    ceiling = np.mean([ce[p] / cb[p] if cb[p] else 0.0 for p in pids])
    assert summary["ceiling"] == pytest.approx(ceiling) and summary["verifier_at_n"] <= summary["ceiling"] + 1e-12
    at = {(r["metric"], r["selector"], r["tests"], r["k"]): r for r in curves}
    # resampling with the base tests as verifier at k = 1 is pass@1 under the extended tests
    assert at[("verifier", "oracle", "base", 1)]["value"] == pytest.approx(np.mean([ce[p] / n for p in pids]))
    assert at[("coverage", "oracle", "extended", 1)]["value"] == pytest.approx(np.mean([ce[p] / n for p in pids]))
    assert {("accuracy", "vote"), ("accuracy", "best:orm")} <= {(m, s) for m, s, _, _ in at}
    for k in {r["k"] for r in curves}:  # extended tests only remove passes: no curve rises
        assert at[("coverage", "oracle", "extended", k)]["value"] <= at[("coverage", "oracle", "base", k)]["value"]
        assert at[("inflation", "oracle", "base", k)]["value"] >= -1e-12
        assert at[("coverage", "oracle", "base", k)]["n_problems"] == P


def test_runs_without_extended_verdicts_and_the_report(tmp_path):
    samples, problems, _ = _run(tmp_path / "a")
    files = write_run(tmp_path / "b" / "exp", SPEC)  # no extended tests at all: NULL everywhere
    out = tmp_path / "b" / "agg"
    aggregate_run(samples=files["samples"], verdicts=files["verdicts"], scores=files["scores"],
                  problems=files["problems"], out_samples=out / "samples.parquet",
                  out_problems=out / "problems.parquet", model="other", dataset=SPEC.dataset,
                  sampling=SPEC.sampling, samples_per_problem=SPEC.samples)
    assert imperfect_run(out / "samples.parquet", out / "problems.parquet") is None
    tables = {t: tmp_path / f"imperfect_{t}.parquet" for t in ("curves", "problems", "summary")}
    res = imperfect_experiment([{"samples": str(samples), "problems": str(problems)},
                                {"samples": str(out / "samples.parquet"), "problems": str(out / "problems.parquet")}],
                               tables, {"bootstrap": 100})
    assert res["with_extended"] == 1 and pq.read_table(tables["summary"]).num_rows == 1
    written = make_imperfect_report(tables, tmp_path / "report", [SPEC.dataset])
    assert sorted(written) == sorted(report_files(tmp_path / "report", [SPEC.dataset]))
    assert all(Path(p).stat().st_size > 0 for p in written)
    md = (tmp_path / "report" / "tables" / "false_positives.md").read_text()
    assert "false positives" in md and SPEC.model in md
    again = tmp_path / "again"
    make_imperfect_report(tables, again, [SPEC.dataset])
    for ext in ("csv", "md", "tex"):  # tables are byte-identical for the same inputs
        name = f"tables/false_positive_problems.{ext}"
        assert (again / name).read_bytes() == (tmp_path / "report" / name).read_bytes()


def test_wilson_interval():
    lo, hi = wilson(0, 10, 0.95)
    assert lo == 0.0 and 0.2 < hi < 0.35
    lo, hi = wilson(5, 10, 0.95)
    assert lo < 0.5 < hi and lo == pytest.approx(1 - hi)
    assert all(np.isnan(wilson(0, 0, 0.95)))
