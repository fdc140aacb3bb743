"""The sequential-versus-parallel figure and table (written only when a config runs budget forcing,
so other reports do not change)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pyarrow.parquet as pq

from ttscale.report.figures import RUN_COLORS, STYLE, _grid, _label_axes, _save
from ttscale.report.tables import Column, write_all

COLUMNS = [
    Column("dataset", "dataset", "text"), Column("model", "model", "text"), Column("scheme", "bins", "text"),
    Column("bin", "bin", "text"), Column("flops_budget", "FLOPs budget", "sci"),
    Column("n_problems", "problems", "int"),
    Column("optimal", "compute-optimal (CV)"), Column("sequential", "sequential only"),
    Column("parallel", "parallel only"), Column("gain_over_parallel", "gain over parallel"),
    Column("gain_lo", "lo"), Column("gain_hi", "hi"), Column("choices", "choice (fold 1 / fold 2)", "text"),
]
TITLE = "Sequential (longer thinking) vs parallel (more samples) at equal FLOPs, per difficulty bin"


def sequential_figure(path: Path, dataset: str, points: list[dict[str, Any]], dpi: int) -> Path:
    """Left: accuracy against thinking tokens per budget (k = 1). Right: accuracy against FLOPs for
    sequential points, repeated sampling (parallel) and the mixes, one line per run."""
    with plt.rc_context(STYLE):
        fig, (left, right) = _grid(2, 2)
        seq = sorted((p for p in points if p["family"] == "sequential"), key=lambda p: p["thinking_budget"])
        per_model = sorted({p["model"] for p in seq})
        for i, m in enumerate(per_model):
            mine = [p for p in seq if p["model"] == m]
            x = np.array([p["thinking_tokens"] for p in mine], float)
            y = np.array([p["value"] for p in mine], float)
            err = np.array([[p["value"] - p["ci_lo"] for p in mine], [p["ci_hi"] - p["value"] for p in mine]])
            left.errorbar(x, y, yerr=err, fmt="o-", color=RUN_COLORS[i % len(RUN_COLORS)], ms=4, capsize=2,
                          label=f"{m}: budget forcing, 1 sample")
            for p in mine:
                left.annotate(f"T={p['thinking_budget']}", (p["thinking_tokens"], p["value"]), fontsize=7,
                              xytext=(3, 3), textcoords="offset points")
        _label_axes(left, "thinking tokens per sample (mean)", "accuracy", f"{dataset}: sequential scaling")
        runs = sorted({(p["model"], p["family"], p["sampling"], p["thinking_budget"] or 0) for p in points})
        for i, (m, fam, sampling, t) in enumerate(runs):
            mine = sorted((p for p in points if (p["model"], p["sampling"]) == (m, sampling)
                           and p["family"] != "sequential"), key=lambda p: p["k"])
            if not mine:
                continue
            x = np.array([p["flops"] for p in mine], float)
            y = np.array([p["value"] for p in mine], float)
            label = f"{m}: repeated sampling ({sampling})" if fam == "parallel" else f"{m}: T={t}, k samples"
            right.plot(x, y, "s--" if fam == "parallel" else ".-", color=RUN_COLORS[i % len(RUN_COLORS)], ms=4,
                       label=label)
        if seq:
            right.plot([p["flops"] for p in seq], [p["value"] for p in seq], "o-", color="black", ms=5,
                       label="budget forcing, 1 sample (sequential)")
        _label_axes(right, "FLOPs per problem", "accuracy (best selector)", f"{dataset}: sequential vs parallel",
                    legend_size=6)
        fig.tight_layout()
        return _save(fig, path, dpi)


def write_sequential_report(points_path: str | Path, optimal_path: str | Path, out_dir: str | Path,
                            datasets: list[str], dpi: int = 150, digits: int = 4) -> list[str]:
    import json

    from ttscale.report import _compact

    points = pq.read_table(points_path).to_pylist()
    optimal = pq.read_table(optimal_path).to_pylist()
    out = Path(out_dir)
    written = []
    for d in datasets:
        mine = [p for p in points if p["dataset"] == d and p["scheme"] == "all"]
        written.append(str(sequential_figure(out / "figures" / f"sequential_{d}.png", d, mine, dpi)))
    rows = [{**r, "choices": _compact(json.loads(r["choices"]))} for r in optimal]
    written += [str(p) for p in write_all(out / "tables" / "sequential", rows, COLUMNS, digits, TITLE)]
    return written


def sequential_report(points: str, optimal: str, out_dir: str, datasets: list[str],
                      settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `sequential_report` stage, with the `report:` settings (dpi, digits)."""
    from ttscale.report import report_settings

    st = report_settings(settings)
    return {"files": write_sequential_report(points, optimal, out_dir, datasets, st["dpi"], st["digits"])}
