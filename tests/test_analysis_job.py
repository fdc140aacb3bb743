"""A run's analyze job (ttscale.analysis.job.run_job): aggregate, judgement and analysis in one call."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from ttscale.analysis.job import run_job
from ttscale.analysis.tables import RUN_TABLES
from ttscale.testing.synthetic import SyntheticSpec, write_run


@pytest.mark.parametrize("math", [True, False])
def test_run_job_writes_the_aggregate_the_judgement_and_the_analysis(tmp_path, math):
    spec = SyntheticSpec(n_problems=6, samples=16, block_size=8, scorers=("orm",))
    files = write_run(tmp_path, spec)
    part = tmp_path / "analysis" / "run"
    agg = {"out_samples": tmp_path / "aggregate" / "samples.parquet",
           "out_problems": tmp_path / "aggregate" / "problems.parquet"}
    judged = {"samples": part / "judgement_samples.parquet", "summary": part / "judgement_summary.parquet"}
    ident = {"model": spec.model, "dataset": spec.dataset, "sampling": spec.sampling}
    run_job(math=math,
            aggregate={"samples": files["samples"], "verdicts": files["verdicts"], "scores": files["scores"],
                       "problems": files["problems"], **agg, "samples_per_problem": 16, **ident},
            judgement_outputs=judged,
            analysis={"outputs": {t: part / f"{t}.parquet" for t in RUN_TABLES},
                      "settings": {"bootstrap": 20, "fit": {"bootstrap": 5}}, "seed": 0, "root": tmp_path})
    assert pq.read_table(agg["out_samples"]).num_rows == 6 * 16
    assert pq.read_table(agg["out_problems"]).num_rows == 6
    assert all((part / f"{t}.parquet").exists() for t in RUN_TABLES)
    summary = pq.read_table(judged["summary"]).to_pylist()
    # a math run's every sample is judged; a run the math verifier does not judge gets empty tables
    assert summary[0]["samples"] == (6 * 16 if math else 0)
    if not math:
        assert pq.read_table(judged["samples"]).num_rows == 0
