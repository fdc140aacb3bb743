"""The report's imperfect-verifier section: per dataset one figure (every curve under base and extended tests,
the inflation of coverage, resampling with the base tests as verifier against its ceiling) and two tables
(false-positive rates per run and per problem). Inputs: ttscale.analysis.imperfect's tables."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ttscale.errors import DataError
from ttscale.report.tables import Column, write_all

log = logging.getLogger(__name__)

TABLES = ("false_positives", "false_positive_problems")
COLUMNS = {
    "false_positives": [
        Column("dataset", "dataset", "text"), Column("model", "model", "text"), Column("sampling", "sampling", "text"),
        Column("problems", "problems", "int"), Column("problems_extended", "with extended tests", "int"),
        Column("n", "n", "int"), Column("base_passes", "base passes", "int"),
        Column("false_positives", "false positives", "int"), Column("fpr", "FPR"), Column("fpr_lo", "lo"),
        Column("fpr_hi", "hi"), Column("problems_with_fp", "problems with FP", "int"),
        Column("coverage_base", "coverage@n base"), Column("coverage_extended", "coverage@n extended"),
        Column("inflation", "inflation@n"), Column("inflation_lo", "lo"), Column("inflation_hi", "hi"),
        Column("verifier_at_n", "base-verifier accuracy@n"), Column("ceiling", "ceiling"),
        Column("ceiling_lo", "lo"), Column("ceiling_hi", "hi"),
    ],
    "false_positive_problems": [
        Column("dataset", "dataset", "text"), Column("model", "model", "text"), Column("sampling", "sampling", "text"),
        Column("problem_id", "problem", "text"), Column("extended", "extended tests", "text"), Column("n", "n", "int"),
        Column("base_passes", "base passes", "int"), Column("extended_passes", "extended passes", "int"),
        Column("false_positives", "false positives", "int"), Column("fpr", "FPR"), Column("fpr_lo", "lo"),
        Column("fpr_hi", "hi"),
    ],
}
TITLES = {
    "false_positives": "Imperfect verifiers: false-positive rate of the base tests (passes base, fails extended), "
                       "inflation of coverage and the ceiling of resampling with the base tests as verifier",
    "false_positive_problems": "False positives per problem (Wilson intervals over the problem's base passes)",
}
FIGURE_TITLE = "Imperfect verifiers"

# the math analogue (ttscale.verify.judgement): counts per run, and every listed sample
JUDGEMENT_TABLES = ("math_judgement", "math_judgement_samples")
JUDGEMENT_COLUMNS = {
    "math_judgement": [
        Column("dataset", "dataset", "text"), Column("model", "model", "text"), Column("sampling", "sampling", "text"),
        Column("samples", "samples", "int"), Column("answered", "with an answer", "int"),
        Column("correct", "correct", "int"), Column("extraction", "verdict depends on the extraction rule", "int"),
        Column("extraction_correct", "of them correct", "int"),
        Column("equivalence", "correct only by math-verify's equivalence", "int"),
        Column("share_of_correct", "share of correct resting on a judgement call"),
    ],
    "math_judgement_samples": [
        Column("dataset", "dataset", "text"), Column("model", "model", "text"), Column("sampling", "sampling", "text"),
        Column("problem_id", "problem", "text"), Column("sample_index", "sample", "int"),
        Column("kind", "kind", "text"), Column("answer", "answer", "text"), Column("reference", "reference", "text"),
        Column("correct", "correct", "text"), Column("boxed", "last boxed", "text"),
        Column("answer_is", "answer is / ####", "text"), Column("last_number", "last number", "text"),
        Column("rule_verdicts", "verdict per rule", "text"),
    ],
}
JUDGEMENT_TITLES = {
    "math_judgement": "Math verdicts that rest on a judgement call: the extraction rule or math-verify's equivalence",
    "math_judgement_samples": "Every math sample whose verdict rests on a judgement call",
}


def judgement_files(out_dir: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """(path, report() keyword arguments) of the math judgement tables (the listing as CSV only)."""
    out = Path(out_dir) / "tables"
    paths = [out / f"math_judgement.{ext}" for ext in ("csv", "md", "tex")] + [out / "math_judgement_samples.csv"]
    return [(str(p), {"caption": f"../report/table_{p.stem}.rst", "category": "Tables", "subcategory": p.stem,
                      "labels": {"table": p.stem, "format": p.suffix.lstrip(".")}}) for p in paths]


def make_judgement_report(summaries: list[str | Path], samples: list[str | Path], out_dir: str | Path,
                          digits: int = 4) -> list[str]:
    """The math judgement tables over all math runs, sorted."""
    from ttscale.io import write_text
    from ttscale.report.tables import to_csv

    key = ("dataset", "model", "sampling")
    rows = sorted((r for p in summaries for r in _read(p)), key=lambda r: tuple(r[c] for c in key))
    listed = sorted(({**r, "correct": "yes" if r["correct"] else "no"} for p in samples for r in _read(p)),
                    key=lambda r: (*(r[c] for c in key), r["kind"], r["problem_id"], r["sample_index"]))
    out = Path(out_dir) / "tables"
    written = write_all(out / "math_judgement", rows, JUDGEMENT_COLUMNS["math_judgement"], digits,
                        JUDGEMENT_TITLES["math_judgement"])
    write_text(out / "math_judgement_samples.csv", to_csv(listed, JUDGEMENT_COLUMNS["math_judgement_samples"], digits))
    return [str(p) for p in written] + [str(out / "math_judgement_samples.csv")]


def report_files(out_dir: str | Path, datasets: Iterable[str]) -> list[str]:
    out = Path(out_dir)
    return [str(out / "figures" / f"imperfect_{d}.png") for d in sorted(set(datasets))] + \
        [str(out / "tables" / f"{t}.{ext}") for t in TABLES for ext in ("csv", "md", "tex")]


def report_entries(out_dir: str | Path, datasets: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
    """(path, keyword arguments of Snakemake's report()) of every file; captions relative to workflow/rules/."""
    out = []
    for path in report_files(out_dir, datasets):
        stem, suffix = Path(path).stem, Path(path).suffix.lstrip(".")
        if suffix == "png":
            out.append((path, {"caption": "../report/imperfect.rst", "category": "Figures",
                               "subcategory": FIGURE_TITLE,
                               "labels": {"figure": FIGURE_TITLE, "dataset": stem.split("_", 1)[1]}}))
        else:
            out.append((path, {"caption": f"../report/table_{stem}.rst", "category": "Tables",
                               "subcategory": stem, "labels": {"table": stem, "format": suffix}}))
    return out


def imperfect_figure(path: Path, dataset: str, curves: list[dict[str, Any]], dpi: int) -> Path:
    """Per run: every curve under base (solid) and extended (dashed) tests; then resampling with the base tests
    as verifier against its ceiling; then the inflation of coverage vs k."""
    # imported here: the rule files read this module's file lists while planning, and matplotlib
    # belongs to the report job only
    import matplotlib.pyplot as plt

    from ttscale.report.figures import (
        RUN_COLORS,
        SEL_COLORS,
        STYLE,
        _band,
        _grid,
        _log_k_axis,
        _save,
        _select,
        _xy,
        run_label,
        selector_label,
        selector_order,
    )

    runs = sorted({(r["model"], r["sampling"]) for r in curves})
    with plt.rc_context(STYLE):
        fig, axes = _grid(2 * len(runs) + 1 if runs else 1, ncols=2)
        if not runs:
            axes[0].text(0.5, 0.5, f"{dataset}: no run with extended tests", ha="center", va="center")
            axes[0].set_axis_off()
            return _save(fig, path, dpi)
        kmax = max(r["k"] for r in curves)
        for i, (model, sampling) in enumerate(runs):
            mine = _select(curves, model=model, sampling=sampling)
            ax = axes[2 * i]
            sels = selector_order({r["selector"] for r in mine if r["metric"] in ("coverage", "accuracy")})
            for j, s in enumerate(sels):
                color = SEL_COLORS[j % len(SEL_COLORS)]
                for tests, style in (("base", "o-"), ("extended", "s--")):
                    rows = [r for r in mine if r["selector"] == s and r["tests"] == tests
                            and r["metric"] in ("coverage", "accuracy")]
                    if rows:
                        k, v, lo, hi = _xy(rows)
                        _band(ax, k, lo, hi, color, 0.12)
                        ax.plot(k, v, style, color=color, ms=3, lw=1.3, label=f"{selector_label(s)}, {tests} tests")
            _log_k_axis(ax, kmax)
            ax.set_ylim(0, 1.02)
            ax.set_ylabel("fraction of problems")
            ax.set_title(f"{run_label(model, sampling)}: base vs extended tests")
            ax.legend(loc="upper left", frameon=False, fontsize=6.5)
            ax = axes[2 * i + 1]
            for metric, tests, style, label, color in (
                    ("coverage", "base", "o-", "coverage, base tests (what the run reports)", RUN_COLORS[0]),
                    ("coverage", "extended", "s--", "coverage, extended tests", RUN_COLORS[1]),
                    ("verifier", "base", "^-", "resampling, base tests as verifier (right under extended)",
                     RUN_COLORS[2]),
                    ("ceiling", "base", ":", "its ceiling 1 - FPR (mean over problems)", RUN_COLORS[3])):
                rows = [r for r in mine if r["metric"] == metric and r["tests"] == tests and r["selector"] == "oracle"]
                if rows:
                    k, v, lo, hi = _xy(rows)
                    _band(ax, k, lo, hi, color, 0.15)
                    ax.plot(k, v, style, color=color, ms=3, lw=1.4, label=label)
            _log_k_axis(ax, kmax)
            ax.set_ylim(0, 1.02)
            ax.set_title(f"{run_label(model, sampling)}: the base tests' ceiling")
            ax.legend(loc="upper left", frameon=False, fontsize=6.5)
        ax = axes[-1]
        for i, (model, sampling) in enumerate(runs):
            rows = _select(curves, model=model, sampling=sampling, metric="inflation")
            k, v, lo, hi = _xy(rows)
            color = RUN_COLORS[i % len(RUN_COLORS)]
            _band(ax, k, lo, hi, color, 0.2)
            ax.plot(k, v, "o-", color=color, ms=3, lw=1.4, label=run_label(model, sampling))
        _log_k_axis(ax, kmax)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_ylabel("coverage@k base − extended")
        ax.set_title(f"{dataset}: inflation of coverage by the base tests (95% CI)")
        ax.legend(loc="upper left", frameon=False)
        fig.tight_layout()
        return _save(fig, path, dpi)


def _read(path: str | Path) -> list[dict[str, Any]]:
    if not Path(path).exists():
        raise DataError(f"{path}: file does not exist")
    return pq.read_table(path).to_pylist()


def make_imperfect_report(inputs: dict[str, str | Path], out_dir: str | Path, datasets: list[str],
                          dpi: int = 150, digits: int = 4) -> list[str]:
    """Write the section's figures (one per dataset in `datasets`) and tables."""
    curves, problems, summary = (_read(inputs[k]) for k in ("curves", "problems", "summary"))
    out = Path(out_dir)
    written = [imperfect_figure(out / "figures" / f"imperfect_{d}.png", d, [r for r in curves if r["dataset"] == d],
                                dpi) for d in sorted(set(datasets))]
    rows = {"false_positives": summary,
            "false_positive_problems": [{**r, "extended": "yes" if r["extended"] else "no"} for r in problems]}
    for name in TABLES:
        written += write_all(out / "tables" / name, rows[name], COLUMNS[name], digits, TITLES[name])
    fp = ", ".join(f"{r['dataset']}/{r['model']}: {r['fpr']:.3g}" for r in summary if r["fpr"] == r["fpr"])
    log.info("imperfect verifiers: %d figures, false-positive rates %s", len(datasets), fp or "none")
    return [str(p) for p in written]

