"""The report stage on two synthetic runs: every declared file, non-trivial figures, identical tables."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from ttscale.aggregate import aggregate_run
from ttscale.analysis.experiment import combine
from ttscale.analysis.run import analyze_run
from ttscale.analysis.tables import EXP_TABLES, RUN_TABLES
from ttscale.report import FIGURES, INPUTS, make_report, report_files
from ttscale.report.tables import Column, fmt, to_latex, to_markdown
from ttscale.testing.synthetic import SyntheticSpec, write_run

SPECS = [
    SyntheticSpec(n_problems=24, samples=32, block_size=16, model="small", dataset="math_a", seed=1, alpha=0.3),
    SyntheticSpec(n_problems=24, samples=32, block_size=32, model="big", dataset="math_a", seed=2, alpha=0.9),
]
MODELS = {"small": {"flops": {"n_params": 1e9, "n_layers": 16, "d_model": 2048}},
          "big": {"flops": {"n_params": 7e10, "n_layers": 80, "d_model": 8192},
                  "price": {"input_per_mtok": 2.5, "output_per_mtok": 10}}}


@pytest.fixture(scope="module")
def experiment(tmp_path_factory) -> Path:
    exp = tmp_path_factory.mktemp("exp")
    runs = []
    for sp in SPECS:
        f = write_run(exp, sp)
        part = f"model={sp.model}/dataset={sp.dataset}/sampling={sp.sampling}"
        agg = exp / "aggregate" / part
        aggregate_run(samples=f["samples"], verdicts=f["verdicts"], scores=f["scores"], problems=f["problems"],
                      out_samples=agg / "samples.parquet", out_problems=agg / "problems.parquet", model=sp.model,
                      dataset=sp.dataset, sampling=sp.sampling)
        outs = {t: exp / "analysis" / part / f"{t}.parquet" for t in RUN_TABLES}
        analyze_run(agg / "samples.parquet", agg / "problems.parquet", outs, {"bootstrap": 200}, MODELS[sp.model])
        runs.append({t: str(p) for t, p in outs.items()})
    combine(runs, {t: exp / "analysis" / f"{t}.parquet" for t in EXP_TABLES}, {"bootstrap": 200})
    return exp


def inputs(exp: Path) -> dict[str, Path]:
    return {t: exp / "analysis" / f"{t}.parquet" for t in INPUTS}


def test_every_declared_file_is_written_and_tables_are_byte_identical(experiment, tmp_path):
    out1 = make_report(inputs(experiment), tmp_path / "r1")
    out2 = make_report(inputs(experiment), tmp_path / "r2")
    declared = report_files(tmp_path / "r1", ["math_a"])
    assert sorted(out1["files"]) == sorted(declared["figures"] + declared["tables"])
    for f in declared["tables"]:
        twin = tmp_path / "r2" / Path(f).relative_to(tmp_path / "r1")
        assert Path(f).read_bytes() == twin.read_bytes(), f
    for f in declared["figures"]:
        twin = tmp_path / "r2" / Path(f).relative_to(tmp_path / "r1")
        assert Path(f).read_bytes() == twin.read_bytes(), f
    assert len(out2["files"]) == len(out1["files"])


def test_figures_are_non_trivial(experiment, tmp_path):
    make_report(inputs(experiment), tmp_path / "r")
    for kind in FIGURES:
        path = tmp_path / "r" / "figures" / f"{kind}_math_a.png"
        assert path.stat().st_size > 20_000, kind
        img = mpimg.imread(path)
        assert img.shape[0] > 400 and img.shape[1] > 600, kind
        gray = img[..., :3].mean(axis=2)
        assert (gray < 0.5).mean() > 0.003, f"{kind}: almost nothing drawn"
        assert len(np.unique(np.round(img[..., :3], 2).reshape(-1, 3), axis=0)) > 50, f"{kind}: too few colours"


def test_tables_content(experiment, tmp_path):
    make_report(inputs(experiment), tmp_path / "r")
    tables = tmp_path / "r" / "tables"
    summary = (tables / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("dataset,model,sampling,problems,n,pass_at_1,coverage_at_n")
    assert len(summary) == 3 and summary[1].startswith("math_a,big,")
    matched = (tables / "compute_matched.md").read_text()
    assert "big · default-00000000" in matched and "| math_a | dollars |" in matched
    tex = (tables / "fits.tex").read_text()
    assert "\\begin{tabular}" in tex and "math\\_a" in tex and "R$^2$" in tex
    curves = (tables / "curves.csv").read_text().splitlines()
    assert curves[0].split(",")[:3] == ["metric", "model", "dataset"] and len(curves) > 500


def test_table_formatting():
    assert fmt(0.123456789, "num", 4) == "0.1235"
    assert fmt(float("nan"), "num", 4) == "" and fmt(None, "text", 4) == ""
    assert fmt(1.5e12, "sci", 4) == "1.500e+12" and fmt(3, "int", 4) == "3"
    cols = [Column("a", "a_b", "text"), Column("x", "x %", "num")]
    rows = [{"a": "p|q", "x": 0.5}, {"a": "r", "x": None}]
    md = to_markdown(rows, cols, 3)
    assert "p\\|q" in md and "| r | – |" in md
    tex = to_latex(rows, cols, 3, "cap_tion", "tab:x")
    assert "a\\_b & x \\%" in tex and "cap\\_tion" in tex and "r & -- \\\\" in tex
