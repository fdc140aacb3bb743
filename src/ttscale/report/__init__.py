"""The report stage: figures (PNG) and tables (CSV, Markdown, LaTeX) from the experiment's analysis.

`report_files` names every file the stage writes, so the workflow can declare them (and register
each with Snakemake's `report()`); `make_report` writes them. Same inputs give byte-identical tables.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ttscale.config import section
from ttscale.errors import DataError
from ttscale.report.tables import Column, write_all

log = logging.getLogger(__name__)

FIGURES = ("coverage", "selectors", "cost", "bins", "extrapolation", "optimal", "strategies")
TABLES = ("summary", "fits", "extrapolation", "compute_matched", "compute_optimal", "strategies")
INPUTS = ("curves", "fits", "extrapolation", "optimal", "summary", "matched", "strategies", "strategy_points")

COLUMNS: dict[str, list[Column]] = {
    "summary": [
        Column("dataset", "dataset", "text"), Column("model", "model", "text"), Column("sampling", "sampling", "text"),
        Column("problems", "problems", "int"), Column("n", "n", "int"), Column("pass_at_1", "pass@1"),
        Column("coverage_at_n", "coverage@n"), Column("coverage_lo", "lo"), Column("coverage_hi", "hi"),
        Column("vote_at_n", "vote@n"), Column("best_selector", "best selector", "text"),
        Column("best_selector_at_n", "its accuracy@n"), Column("prompt_tokens", "prompt tok"),
        Column("completion_tokens", "completion tok"), Column("flops_per_sample", "FLOPs/sample", "sci"),
        Column("dollars_per_sample", "$/sample", "sci"),
    ],
    "fits": [
        Column("dataset", "dataset", "text"), Column("model", "model", "text"), Column("sampling", "sampling", "text"),
        Column("fit_on", "fit on", "text"), Column("m", "samples used", "int"), Column("a", "a"),
        Column("a_lo", "a lo"), Column("a_hi", "a hi"), Column("b", "b"), Column("b_lo", "b lo"),
        Column("b_hi", "b hi"), Column("r2", "R²"), Column("rmse", "RMSE"), Column("n_points", "ks", "int"),
        Column("alpha", "Beta α"), Column("alpha_lo", "α lo"), Column("alpha_hi", "α hi"),
        Column("beta", "Beta β"), Column("beta_lo", "β lo"), Column("beta_hi", "β hi"),
        Column("beta_rmse", "Beta RMSE"), Column("note", "note", "text"),
    ],
    "extrapolation": [
        Column("dataset", "dataset", "text"), Column("model", "model", "text"), Column("sampling", "sampling", "text"),
        Column("predictor", "predictor", "text"), Column("m", "fit on m", "int"), Column("n", "n", "int"),
        Column("observed", "observed@n"), Column("observed_lo", "lo"), Column("observed_hi", "hi"),
        Column("predicted", "predicted@n"), Column("error", "error@n"), Column("inside", "inside CI", "text"),
        Column("rmse", "RMSE over k>m"), Column("max_abs", "max |error|"), Column("points", "ks > m", "int"),
    ],
    "compute_matched": [
        Column("dataset", "dataset", "text"), Column("unit", "unit", "text"),
        Column("reference", "budget of", "text"), Column("reference_k", "at k", "int"),
        Column("budget", "budget", "sci"), Column("model", "model", "text"), Column("sampling", "sampling", "text"),
        Column("k", "k in budget", "int"), Column("cost", "cost", "sci"), Column("coverage", "coverage"),
        Column("coverage_lo", "lo"), Column("coverage_hi", "hi"), Column("best_selector", "best selector", "text"),
        Column("selector_k", "at k", "int"), Column("selector_accuracy", "accuracy"),
    ],
    "compute_optimal": [
        Column("dataset", "dataset", "text"), Column("model", "model", "text"), Column("sampling", "sampling", "text"),
        Column("scheme", "bins", "text"), Column("k", "budget k", "int"), Column("per_bin", "per-bin best (CV)"),
        Column("single", "single best (CV)"), Column("gain", "gain"), Column("gain_lo", "lo"),
        Column("gain_hi", "hi"), Column("choices", "choice per bin (fold 1 / fold 2)", "text"),
        Column("strategies", "candidates", "int"),
    ],
    "strategies": [
        Column("dataset", "dataset", "text"), Column("model", "model", "text"), Column("scheme", "bins", "text"),
        Column("bin", "bin", "text"), Column("budget", "budget N", "int"), Column("n_problems", "problems", "int"),
        Column("optimal", "compute-optimal (CV)"), Column("best_of_n", "best-of-N (CV)"), Column("gain", "gain"),
        Column("gain_lo", "lo"), Column("gain_hi", "hi"), Column("efficiency", "best-of-N budget needed / N"),
        Column("optimal_flops", "FLOPs (optimal)", "sci"), Column("best_of_n_flops", "FLOPs (best-of-N)", "sci"),
        Column("choices", "choice (fold 1 / fold 2)", "text"), Column("candidates", "candidates", "int"),
    ],
}
TITLES = {
    "summary": "Runs: coverage at n, the best selector and cost per sample",
    "fits": "Scaling laws of coverage: exp(a·k^b) (Brown et al.) and the Beta predictor (Schaeffer et al.)",
    "extrapolation": "Extrapolation: fit on the first tenth of the samples, predict coverage at n",
    "compute_matched": "Compute-matched comparison: samples each run affords at another run's cost",
    "compute_optimal": "Compute-optimal selector per difficulty bin vs the best single selector (two-fold CV)",
    "strategies": "Search strategies: the compute-optimal strategy per bin vs best-of-N at the same budget "
                  "(two-fold CV)",
}


def report_files(out_dir: str | Path, datasets: Iterable[str]) -> dict[str, list[str]]:
    """Every file `make_report` writes: figures per dataset, tables in three formats, curves.csv."""
    out = Path(out_dir)
    figs = [str(out / "figures" / f"{kind}_{d}.png") for d in sorted(set(datasets)) for kind in FIGURES]
    tables = [str(out / "tables" / f"{t}.{ext}") for t in TABLES for ext in ("csv", "md", "tex")]
    return {"figures": figs, "tables": [*tables, str(out / "tables" / "curves.csv")]}


FIGURE_TITLES = {
    "coverage": "Coverage vs samples",
    "selectors": "Selectors vs coverage",
    "cost": "Cost",
    "bins": "Difficulty bins",
    "extrapolation": "Extrapolation",
    "optimal": "Compute-optimal selection",
    "strategies": "Search strategies",
}


def report_entries(out_dir: str | Path, datasets: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
    """(path, keyword arguments of Snakemake's report()) for every file of `report_files`; captions
    are named relative to workflow/rules/."""
    out = []
    for files in report_files(out_dir, datasets).values():
        for path in files:
            stem, suffix = Path(path).stem, Path(path).suffix.lstrip(".")
            if suffix == "png":
                kind, dataset = stem.split("_", 1)
                out.append((path, {"caption": f"../report/{kind}.rst", "category": "Figures",
                                   "subcategory": FIGURE_TITLES[kind],
                                   "labels": {"figure": FIGURE_TITLES[kind], "dataset": dataset}}))
            else:
                out.append((path, {"caption": f"../report/table_{stem}.rst", "category": "Tables",
                                   "subcategory": stem, "labels": {"table": stem, "format": suffix}}))
    return out


def _read(path: str | Path) -> list[dict[str, Any]]:
    if not Path(path).exists():
        raise DataError(f"{path}: file does not exist")
    return pq.read_table(path).to_pylist()


def _extrapolation_rows(extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per run and predictor: the error at n and over all held-out ks."""
    import numpy as np

    out = []
    keys = sorted({(r["dataset"], r["model"], r["sampling"], r["predictor"]) for r in extra})
    for d, m, s, p in keys:
        rows = sorted((r for r in extra if (r["dataset"], r["model"], r["sampling"], r["predictor"]) == (d, m, s, p)),
                      key=lambda r: r["k"])
        last = rows[-1]
        err = np.array([r["error"] for r in rows], np.float64)
        inside = None
        if np.isfinite(last["predicted"]):
            inside = last["observed_lo"] <= last["predicted"] <= last["observed_hi"]
        out.append({"dataset": d, "model": m, "sampling": s, "predictor": p, "m": last["m"], "n": last["n"],
                    "observed": last["observed"], "observed_lo": last["observed_lo"],
                    "observed_hi": last["observed_hi"], "predicted": last["predicted"], "error": last["error"],
                    "inside": None if inside is None else ("yes" if inside else "no"),
                    "rmse": float(np.sqrt(np.nanmean(err**2))) if np.isfinite(err).any() else None,
                    "max_abs": float(np.nanmax(np.abs(err))) if np.isfinite(err).any() else None,
                    "points": len(rows)})
    return out


def _compact(choices: Any) -> str:
    """Fold choices ({bin: [fold 1, fold 2]} or [fold 1, fold 2]) into one line, repeats merged."""
    if isinstance(choices, dict):
        return "; ".join(f"{b}: {' / '.join(dict.fromkeys(c))}" for b, c in choices.items())
    return " / ".join(dict.fromkeys(choices or []))


def _choice_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "choices": _compact(json.loads(r["choices"]))} for r in rows]


def report_settings(given: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `report:` config section with its schema defaults filled in."""
    return section("report", given)


def make_report(inputs: dict[str, str | Path], out_dir: str | Path,
                settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write every figure and table of `report_files` from the experiment tables (`inputs`)."""
    from ttscale.report import figures  # matplotlib: imported by the report job, not when planning

    st = report_settings(settings)
    missing = [k for k in INPUTS if k not in inputs]
    if missing:
        raise DataError(f"report: inputs {missing} are missing")
    data = {k: _read(inputs[k]) for k in INPUTS}
    out = Path(out_dir)
    datasets = sorted({r["dataset"] for r in data["curves"]})
    dpi, digits = st["dpi"], st["digits"]
    written = []
    for d in datasets:
        cur = [r for r in data["curves"] if r["dataset"] == d]
        fits = [r for r in data["fits"] if r["dataset"] == d]
        summ = [r for r in data["summary"] if r["dataset"] == d]
        fig_dir = out / "figures"
        written += [
            figures.coverage_figure(fig_dir / f"coverage_{d}.png", d, cur, fits, dpi),
            figures.selectors_figure(fig_dir / f"selectors_{d}.png", d, cur, st["selectors"], dpi),
            figures.cost_figure(fig_dir / f"cost_{d}.png", d, cur, summ, dpi),
            figures.bins_figure(fig_dir / f"bins_{d}.png", d, cur, summ, dpi),
            figures.extrapolation_figure(fig_dir / f"extrapolation_{d}.png", d, cur,
                                         [r for r in data["extrapolation"] if r["dataset"] == d], fits, dpi),
            figures.optimal_figure(fig_dir / f"optimal_{d}.png", d,
                                   [r for r in data["optimal"] if r["dataset"] == d], dpi),
            figures.strategies_figure(fig_dir / f"strategies_{d}.png", d,
                                      [r for r in data["strategy_points"] if r["dataset"] == d],
                                      [r for r in data["strategies"] if r["dataset"] == d], dpi),
        ]
    tables = {
        "summary": data["summary"],
        "fits": data["fits"],
        "extrapolation": _extrapolation_rows(data["extrapolation"]),
        "compute_matched": data["matched"],
        "compute_optimal": _choice_rows(data["optimal"]),
        "strategies": _choice_rows(data["strategies"]),
    }
    for name, rows in tables.items():
        written += write_all(out / "tables" / name, rows, COLUMNS[name], digits, TITLES[name])
    curve_cols = [Column(c, c, "text" if c in ("metric", "model", "dataset", "sampling", "selector", "scheme", "bin")
                         else "int" if c == "n_problems" else "num") for c in
                  ("metric", "model", "dataset", "sampling", "selector", "scheme", "bin", "k", "value", "ci_lo",
                   "ci_hi", "mc_se", "n_problems", "flops", "dollars")]
    from ttscale.io import write_text
    from ttscale.report.tables import to_csv

    write_text(out / "tables" / "curves.csv", to_csv(data["curves"], curve_cols, max(digits, 6)))
    written.append(out / "tables" / "curves.csv")
    log.info("report: %d figures and %d tables in %s", sum(p.suffix == ".png" for p in written),
             sum(p.suffix != ".png" for p in written), out)
    return {"files": [str(p) for p in written], "datasets": datasets}
