"""The report's figures (matplotlib, Agg): one file per kind and dataset, runs and selectors overlaid.

Conventions, as in the papers: k on a log axis, 95 % bootstrap intervals as shaded bands, fits as
dashed lines with their own band, legends that name model · sampling and the selector.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ttscale.analysis import selectors
from ttscale.analysis.difficulty import bin_order
from ttscale.analysis.selectors import ORACLE
from ttscale.io import atomic_path

Rows = list[dict[str, Any]]
RUN_COLORS = plt.get_cmap("tab10").colors
SEL_COLORS = [c for c in plt.get_cmap("tab10").colors if c != plt.get_cmap("tab10").colors[7]] + \
    list(plt.get_cmap("Dark2").colors)
BIN_CMAP = plt.get_cmap("viridis")
STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 7.5,
         "axes.spines.top": False, "axes.spines.right": False, "svg.hashsalt": "ttscale"}


def run_label(model: str, sampling: str) -> str:
    return f"{model} · {sampling}"


def _runs(rows: Rows) -> list[tuple[str, str]]:
    return sorted({(r["model"], r["sampling"]) for r in rows})


def _select(rows: Rows, **eq: Any) -> Rows:
    return [r for r in rows if all(r.get(k) == v for k, v in eq.items())]


def _xy(rows: Rows, key: str = "k") -> tuple[np.ndarray, ...]:
    rows = sorted(rows, key=lambda r: r[key])
    return tuple(np.array([r[c] for r in rows], dtype=np.float64) for c in (key, "value", "ci_lo", "ci_hi"))


def _log_k_axis(ax: plt.Axes, kmax: float) -> None:
    """Log-scaled k axis with plain-number ticks (base 2 for small n, base 10 otherwise)."""
    base = 2 if kmax <= 512 else 10
    ax.set_xscale("log", base=base)
    ax.xaxis.set_major_locator(LogLocator(base=base))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(0.9, kmax * 1.12)
    ax.set_xlabel("samples per problem k (log scale)")
    ax.grid(True, which="major", alpha=0.3)


def _label_axes(ax: plt.Axes, xlabel: str, ylabel: str, title: str, legend_size: float = 7,
                log_x: bool = True) -> None:
    """The common dressing of an accuracy panel: log x axis, labels, y from 0 to 1, title, legend."""
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=legend_size)


def _band(ax: plt.Axes, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, color: Any, alpha: float) -> None:
    ok = np.isfinite(lo) & np.isfinite(hi)
    if ok.any():
        ax.fill_between(x[ok], lo[ok], hi[ok], color=color, alpha=alpha, linewidth=0)


def _save(fig: plt.Figure, path: Path, dpi: int) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return path


def _grid(n: int, ncols: int = 2, w: float = 5.4, h: float = 3.9) -> tuple[plt.Figure, list[plt.Axes]]:
    ncols = min(ncols, max(n, 1))
    nrows = math.ceil(max(n, 1) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def selector_order(names: Sequence[str]) -> list[str]:
    """oracle first, then votes, then best-of-k, each alphabetical (ttscale.analysis.selectors)."""
    return selectors.order(names)


def selector_label(s: str) -> str:
    return selectors.label(s)


def _line_style(s: str) -> str:
    """Votes solid, best-of-k dashed, best-of-k by a process scorer's step aggregation dotted."""
    sel, score = selectors.parse(s)
    return "-" if sel.needs_answers else "--" if ":" not in (score or "") else ":"


def coverage_figure(path: Path, dataset: str, curves: Rows, fits: Rows, dpi: int) -> Path:
    """Coverage vs k per run, with the exponentiated power-law fit and its band."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.2, 4.6))
        kmax = 1.0
        for i, (model, sampling) in enumerate(_runs(curves)):
            color = RUN_COLORS[i % len(RUN_COLORS)]
            obs = _select(curves, model=model, sampling=sampling, metric="coverage", scheme="all")
            k, v, lo, hi = _xy(obs)
            kmax = max(kmax, float(k.max()))
            _band(ax, k, lo, hi, color, 0.22)
            ax.plot(k, v, "o-", color=color, ms=3.5, lw=1.6,
                    label=f"{run_label(model, sampling)}: coverage (95% CI)")
            fit = _select(curves, model=model, sampling=sampling, metric="coverage_fit", selector="power_law")
            par = _select(fits, model=model, sampling=sampling, fit_on="all")
            if fit and par and np.isfinite(par[0]["a"]):
                fk, fv, flo, fhi = _xy(fit)
                ax.plot(fk, flo, ":", color=color, lw=0.9)
                ax.plot(fk, fhi, ":", color=color, lw=0.9)
                p = par[0]
                ax.plot(fk, fv, "--", color=color, lw=1.3,
                        label=f"{run_label(model, sampling)}: fit exp(a·k^b), a={p['a']:.3g}, b={p['b']:.3g}, "
                              f"R²={p['r2']:.3f} (dotted: 95% band)")
        _log_k_axis(ax, kmax)
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("coverage (pass@k, fraction of problems)")
        ax.set_title(f"{dataset}: coverage vs. number of samples")
        ax.legend(loc="upper left", frameon=False)
        fig.tight_layout()
        return _save(fig, path, dpi)


def selectors_figure(path: Path, dataset: str, curves: Rows, patterns: Sequence[str], dpi: int) -> Path:
    """Per run: coverage and every selector's accuracy vs k (how far selectors fall short)."""
    runs = _runs(curves)
    with plt.rc_context(STYLE):
        fig, axes = _grid(len(runs), ncols=2, w=5.6 if len(runs) > 1 else 7.2, h=4.4)
        handles: dict[str, Any] = {}
        names = selector_order([r["selector"] for r in curves if r["metric"] in ("coverage", "accuracy")])
        names = [s for s in names if s == ORACLE or any(fnmatch.fnmatchcase(s, p) for p in patterns)]
        colors = {s: ("black" if s == ORACLE else SEL_COLORS[i % len(SEL_COLORS)]) for i, s in enumerate(names)}
        for ax, (model, sampling) in zip(axes, runs, strict=True):
            kmax = 1.0
            top = _best_at_n(curves, model, sampling, names)
            for s in names:
                rows = _select(curves, model=model, sampling=sampling, selector=s, scheme="all")
                rows = [r for r in rows if r["metric"] in ("coverage", "accuracy")]
                if not rows:
                    continue
                k, v, lo, hi = _xy(rows)
                kmax = max(kmax, float(k.max()))
                if s in (ORACLE, top):  # bands for the oracle and the best selector only: readable
                    _band(ax, k, lo, hi, colors[s], 0.18 if s == ORACLE else 0.14)
                style = {"lw": 2.2, "ls": "-"} if s == ORACLE else {"lw": 1.2, "ls": _line_style(s)}
                (h,) = ax.plot(k, v, color=colors[s], marker="o", ms=2.2, **style)
                handles.setdefault(s, h)
            _log_k_axis(ax, kmax)
            ax.set_ylim(0, 1.02)
            ax.set_ylabel("accuracy (coverage for the oracle)")
            ax.set_title(f"{dataset} — {run_label(model, sampling)}")
        order = [s for s in names if s in handles]
        ncol = 2 if len(axes) == 1 else 4
        fig.legend([handles[s] for s in order], [selector_label(s) for s in order], loc="lower center",
                   ncol=min(ncol, max(len(order), 1)), frameon=False, bbox_to_anchor=(0.5, 0.0))
        rows_of_legend = math.ceil(len(order) / ncol) * (1.6 if len(axes) == 1 else 1.0)
        fig.suptitle(f"{dataset}: selectors vs. coverage\n(bands: 95% bootstrap intervals of coverage and of the "
                     "best selector)", y=0.995, fontsize=10)
        fig.tight_layout(rect=(0, 0.035 * rows_of_legend + 0.02, 1, 0.96))
        return _save(fig, path, dpi)


def _best_at_n(curves: Rows, model: str, sampling: str, names: Sequence[str]) -> str | None:
    """The practical selector with the highest accuracy at the run's largest k."""
    rows = [r for r in _select(curves, model=model, sampling=sampling, metric="accuracy", scheme="all")
            if r["selector"] in names]
    if not rows:
        return None
    kmax = max(r["k"] for r in rows)
    best = None
    for r in sorted((r for r in rows if r["k"] == kmax), key=lambda r: r["selector"]):
        if best is None or round(r["value"], 9) > round(best["value"], 9):
            best = r
    return best["selector"] if best else None


def pareto_front(cost: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points not dominated by a cheaper one with a higher value (sorted by cost)."""
    ok = np.isfinite(cost) & np.isfinite(value)
    order = np.lexsort((-value[ok], cost[ok]))
    c, v = cost[ok][order], value[ok][order]
    keep, best = [], -np.inf
    for i in range(len(c)):
        if v[i] > best:
            keep.append(i)
            best = v[i]
    return c[keep], v[keep]


def cost_figure(path: Path, dataset: str, curves: Rows, summary: Rows, dpi: int) -> Path:
    """Coverage and the best selector against inference cost (FLOPs, and dollars when priced)."""
    runs = _runs(curves)
    units = [("flops", "inference FLOPs per problem (log scale)")]
    if any((r.get("dollars") or 0) > 0 for r in curves):
        units.append(("dollars", "cost per problem in $ (log scale)"))
    with plt.rc_context(STYLE):
        fig, axes = _grid(len(units), ncols=2, w=6.4, h=4.5)
        for ax, (unit, xlabel) in zip(axes, units, strict=True):
            pts_c, pts_v = [], []
            for i, (model, sampling) in enumerate(runs):
                color = RUN_COLORS[i % len(RUN_COLORS)]
                cov = sorted(_select(curves, model=model, sampling=sampling, metric="coverage", scheme="all"),
                             key=lambda r: r["k"])
                x = np.array([r[unit] for r in cov], np.float64)
                if not np.isfinite(x).any():
                    continue
                v = np.array([r["value"] for r in cov])
                ax.plot(x, v, "o-", color=color, ms=3, lw=1.5, label=f"{run_label(model, sampling)}: coverage")
                pts_c.append(x)
                pts_v.append(v)
                best = _select(summary, model=model, sampling=sampling)
                sel = best[0]["best_selector"] if best else None
                if sel:
                    acc = sorted(_select(curves, model=model, sampling=sampling, selector=sel, scheme="all"),
                                 key=lambda r: r["k"])
                    ax.plot([r[unit] for r in acc], [r["value"] for r in acc], "s--", color=color, ms=2.5, lw=1.1,
                            label=f"{run_label(model, sampling)}: {selector_label(sel)}")
            if pts_c:
                fc, fv = pareto_front(np.concatenate(pts_c), np.concatenate(pts_v))
                ax.step(fc, fv, where="post", color="0.45", lw=4, alpha=0.35, zorder=0,
                        label="Pareto front of coverage (all runs)")
                ax.set_xscale("log")
                ax.legend(loc="upper left", frameon=False)
            else:
                ax.text(0.5, 0.5, f"no {unit} known for these runs\n(see models.<m>.flops / price)",
                        ha="center", va="center", transform=ax.transAxes)
            ax.set_ylim(0, 1.02)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("coverage / selector accuracy")
            ax.grid(True, which="major", alpha=0.3)
            ax.set_title(f"{dataset}: coverage vs. {'inference FLOPs' if unit == 'flops' else 'dollar cost'}")
        fig.tight_layout()
        return _save(fig, path, dpi)


def bins_figure(path: Path, dataset: str, curves: Rows, summary: Rows, dpi: int) -> Path:
    """Per run and difficulty scheme: coverage (solid) and the run's best selector (dashed) per bin."""
    runs = _runs(curves)
    schemes = [s for s in ("quantile", "absolute", "level") if any(r["scheme"] == s for r in curves)]
    titles = {"quantile": "quantile bins of pass@1 (1 = easiest)", "absolute": "absolute bins of pass@1",
              "level": "the dataset's own levels"}
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(runs), len(schemes), figsize=(4.8 * len(schemes), 3.9 * len(runs)),
                                 squeeze=False)
        for row, (model, sampling) in enumerate(runs):
            best = _select(summary, model=model, sampling=sampling)
            sel = best[0]["best_selector"] if best else None
            for col, scheme in enumerate(schemes):
                ax = axes[row][col]
                mine = _select(curves, model=model, sampling=sampling, scheme=scheme)
                bins = []
                for r in mine:
                    if r["bin"] not in bins:
                        bins.append(r["bin"])
                bins = bin_order(scheme, np.array(bins, dtype=object))
                kmax = 1.0
                for j, b in enumerate(bins):
                    color = BIN_CMAP(j / max(len(bins) - 1, 1) * 0.9)
                    cov = _select(mine, bin=b, metric="coverage")
                    k, v, lo, hi = _xy(cov)
                    kmax = max(kmax, float(k.max()))
                    _band(ax, k, lo, hi, color, 0.12)
                    name = {"quantile": f"bin {b}", "level": f"level {b}"}.get(scheme, b)
                    ax.plot(k, v, "-", color=color, lw=1.6, label=f"{name} ({cov[0]['n_problems']} problems)")
                    if sel:
                        acc = _select(mine, bin=b, selector=sel)
                        if acc:
                            ka, va, _, _ = _xy(acc)
                            ax.plot(ka, va, "--", color=color, lw=1.1)
                _log_k_axis(ax, kmax)
                ax.set_ylim(-0.02, 1.02)
                ax.set_ylabel("coverage (solid) / " + (selector_label(sel) if sel else "selector") + " (dashed)",
                              fontsize=7.5)
                ax.set_title(f"{run_label(model, sampling)}\n{titles[scheme]}")
                ax.legend(loc="upper left", frameon=False, fontsize=7)
        fig.suptitle(f"{dataset}: curves per difficulty bin", y=0.998)
        fig.tight_layout(rect=(0, 0, 1, 0.985))
        return _save(fig, path, dpi)


def extrapolation_figure(path: Path, dataset: str, curves: Rows, extrapolation: Rows, fits: Rows, dpi: int) -> Path:
    """Fit on the first m = n/10 samples (k <= m), predict up to n, against what all n samples show."""
    runs = _runs(curves)
    with plt.rc_context(STYLE):
        fig, axes = _grid(len(runs), ncols=2, w=5.8, h=4.2)
        for ax, (model, sampling) in zip(axes, runs, strict=True):
            obs = _select(curves, model=model, sampling=sampling, metric="coverage", scheme="all")
            k, v, lo, hi = _xy(obs)
            _band(ax, k, lo, hi, "black", 0.15)
            ax.plot(k, v, "o-", color="black", ms=3, lw=1.6, label="observed coverage, all n samples (95% CI)")
            hold = _select(fits, model=model, sampling=sampling, fit_on="holdout")
            m = hold[0]["m"] if hold else None
            for name, color, label in (("power_law", "tab:blue", "exp(a·k^b)"), ("beta", "tab:orange", "Beta")):
                pred = _select(curves, model=model, sampling=sampling, metric="coverage_extrapolated", selector=name)
                if not pred:
                    continue
                pk, pv, plo, phi = _xy(pred)
                _band(ax, pk, plo, phi, color, 0.12)
                inside = pk <= (m or 0)
                ax.plot(pk[inside], pv[inside], "-", color=color, lw=1.6)
                err = [r for r in _select(extrapolation, model=model, sampling=sampling, predictor=name)
                       if r["k"] == int(k.max())]
                tail = f"; error at k={int(k.max())}: {err[0]['error']:+.3f}" if err else ""
                ax.plot(pk[~inside], pv[~inside], "--", color=color, lw=1.6,
                        label=f"{label} fit on the first m={m} samples{tail}")
            if m:
                ax.axvline(m, color="0.4", ls=":", lw=1)
                ax.text(m, 1.0, f"fit on k ≤ {m}  ", color="0.3", fontsize=7, va="top", ha="right")
                ax.text(m, 1.0, "  extrapolated", color="0.3", fontsize=7, va="top", ha="left")
            _log_k_axis(ax, float(k.max()))
            ax.set_ylim(0, 1.02)
            ax.set_ylabel("coverage (pass@k)")
            ax.set_title(f"{dataset} — {run_label(model, sampling)}")
            ax.legend(loc="lower right", frameon=True, framealpha=0.9, edgecolor="0.85")
        fig.suptitle(f"{dataset}: extrapolating coverage from a tenth of the samples", y=0.995)
        fig.tight_layout(rect=(0, 0, 1, 0.98))
        return _save(fig, path, dpi)


def optimal_figure(path: Path, dataset: str, optimal: Rows, dpi: int) -> Path:
    """Compute-optimal selector per difficulty bin (two-fold cross-validated) vs the best single one."""
    runs = _runs(optimal) if optimal else []
    with plt.rc_context(STYLE):
        fig, axes = _grid(max(len(runs), 1), ncols=2, w=5.6, h=4.0)
        if not runs:
            axes[0].text(0.5, 0.5, "no selectors to compare", ha="center", va="center", transform=axes[0].transAxes)
            axes[0].set_axis_off()
        for ax, (model, sampling) in zip(axes, runs, strict=False):
            mine = _select(optimal, model=model, sampling=sampling)
            kmax = 1.0
            for j, scheme in enumerate(sorted({r["scheme"] for r in mine})):
                rows = sorted(_select(mine, scheme=scheme), key=lambda r: r["k"])
                k = np.array([r["k"] for r in rows], np.float64)
                kmax = max(kmax, float(k.max()))
                color = RUN_COLORS[j % len(RUN_COLORS)]
                gain = np.array([r["gain"] for r in rows])
                lo = np.array([r["gain_lo"] for r in rows])
                hi = np.array([r["gain_hi"] for r in rows])
                _band(ax, k, lo, hi, color, 0.15)
                ax.plot(k, gain, "o-", color=color, ms=3, label=f"best selector per {scheme} bin")
            single = sorted(mine, key=lambda r: r["k"])
            ax.axhline(0, color="black", lw=1, ls="--", label="best single selector (reference)")
            _log_k_axis(ax, kmax)
            ax.set_xlabel("budget: samples per problem k (log scale)")
            ax.set_ylabel("accuracy gain over the best single selector")
            best_single = max(single, key=lambda r: r["k"]) if single else None
            note = f" (single best at k={best_single['k']}: {best_single['single']:.3f})" if best_single else ""
            ax.set_title(f"{dataset} — {run_label(model, sampling)}{note}", fontsize=9)
            ax.legend(loc="lower left", frameon=False)
        fig.suptitle(f"{dataset}: compute-optimal selector per difficulty bin, two-fold cross-validated "
                     "(95% paired bootstrap bands)", y=0.995)
        fig.tight_layout(rect=(0, 0, 1, 0.98))
        return _save(fig, path, dpi)


def strategies_figure(path: Path, dataset: str, points: Rows, strategies: Rows, dpi: int) -> Path:
    """Strategy vs budget per difficulty bin (Snell et al. Fig. 3/4 shape): each family's best selector,
    and the cross-validated compute-optimal policy, against the generation budget N."""
    models = sorted({r["model"] for r in points})
    panels = [(m, s, b) for m in models for s in ("all", "quantile", "absolute")
              for b in bin_order(s, np.array([r["bin"] for r in points if r["model"] == m and r["scheme"] == s],
                                             dtype=object))]
    with plt.rc_context(STYLE):
        fig, axes = _grid(max(len(panels), 1), ncols=3, w=4.4, h=3.5)
        if not panels:
            axes[0].text(0.5, 0.5, "no search strategies in this experiment\n(strategies: in the config)",
                         ha="center", va="center", transform=axes[0].transAxes)
            axes[0].set_axis_off()
        families = sorted({r["family"] for r in points}, key=lambda f: (f != "best-of-N", f))
        for ax, (model, scheme, b) in zip(axes, panels, strict=False):
            mine = _select(points, model=model, scheme=scheme, bin=b)
            nmax = 1.0
            for j, fam in enumerate(families):
                rows = sorted(_select(mine, family=fam), key=lambda r: r["budget"])
                if not rows:
                    continue
                x = np.array([r["budget"] for r in rows], np.float64)
                nmax = max(nmax, float(x.max()))
                color = "black" if fam == "best-of-N" else SEL_COLORS[j % len(SEL_COLORS)]
                _band(ax, x, np.array([r["ci_lo"] for r in rows]), np.array([r["ci_hi"] for r in rows]), color, 0.1)
                ax.plot(x, [r["value"] for r in rows], "o-", color=color, ms=3, lw=1.3, label=fam)
            opt = sorted(_select(strategies, model=model, scheme=scheme, bin=b), key=lambda r: r["budget"])
            if opt:
                ax.plot([r["budget"] for r in opt], [r["optimal"] for r in opt], "*--", color="crimson", ms=7,
                        lw=1, label="compute-optimal (2-fold CV)")
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.set_xlim(0.8 * min((r["budget"] for r in mine), default=1), nmax * 1.25)
            ax.set_ylim(-0.02, 1.02)
            ax.grid(True, alpha=0.3)
            ax.set_xlabel("generation budget N (log scale)")
            ax.set_ylabel("accuracy (best selector of each)")
            n_p = mine[0]["n_problems"] if mine else 0
            where = "all problems" if scheme == "all" else \
                (f"quantile bin {b}" if scheme == "quantile" else f"{b} (absolute bin)")
            ax.set_title(f"{model}: {where} ({n_p} problems)", fontsize=9)
            ax.legend(loc="lower right", frameon=False, fontsize=7)
        fig.suptitle(f"{dataset}: search strategies vs best-of-N by budget and difficulty", y=0.998)
        fig.tight_layout(rect=(0, 0, 1, 0.985))
        return _save(fig, path, dpi)
