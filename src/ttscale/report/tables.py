"""Tables as CSV, Markdown and LaTeX (booktabs), byte-identical for the same inputs.

Numbers are printed with a fixed number of significant digits (no locale, no platform-dependent
repr), rows come sorted by the caller, and missing values are empty (CSV) or an en dash.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttscale.io import write_text


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: str = "num"  # num, int, pct, sci, text


def fmt(value: Any, kind: str, digits: int) -> str:
    """One cell as text ('' for missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if kind == "text":
        return str(value)
    if kind == "int":
        return str(int(value))
    v = float(value)
    if kind == "pct":
        return f"{100 * v:.{max(digits - 2, 1)}f}"
    if kind == "sci":
        return f"{v:.{max(digits - 1, 0)}e}"
    if v == 0:
        return "0"
    out = f"{v:.{digits}g}"
    if "e" in out:
        return f"{v:.{max(digits - 1, 0)}e}"
    return out


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[Column], digits: int) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c.key for c in columns])
    for r in rows:
        w.writerow([fmt(r.get(c.key), c.kind, digits) for c in columns])
    return buf.getvalue()


def to_markdown(rows: Sequence[dict[str, Any]], columns: Sequence[Column], digits: int, title: str = "") -> str:
    def cell(s: str) -> str:
        return (s or "–").replace("|", "\\|")

    lines = [f"**{title}**", ""] if title else []
    lines.append("| " + " | ".join(c.title for c in columns) + " |")
    lines.append("|" + "|".join("---:" if c.kind != "text" else ":---" for c in columns) + "|")
    for r in rows:
        lines.append("| " + " | ".join(cell(fmt(r.get(c.key), c.kind, digits)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "·": r"$\cdot$", "≤": r"$\le$",
        "²": r"$^2$", "α": r"$\alpha$", "β": r"$\beta$", "–": "--", "|": r"$|$"}


def tex_escape(s: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in s)


def to_latex(rows: Sequence[dict[str, Any]], columns: Sequence[Column], digits: int, caption: str = "",
             label: str = "") -> str:
    spec = "".join("l" if c.kind == "text" else "r" for c in columns)
    out = ["\\begin{table}[t]", "\\centering", "\\small"]
    if caption:
        out.append(f"\\caption{{{tex_escape(caption)}}}")
    if label:
        out.append(f"\\label{{{label}}}")
    out += [f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
            " & ".join(tex_escape(c.title) for c in columns) + " \\\\", "\\midrule"]
    for r in rows:
        out.append(" & ".join(tex_escape(fmt(r.get(c.key), c.kind, digits) or "–") for c in columns) + " \\\\")
    out += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(out) + "\n"


def write_all(base: Path, rows: Sequence[dict[str, Any]], columns: Sequence[Column], digits: int,
              title: str) -> list[Path]:
    """Write base.csv, base.md and base.tex; returns the paths."""
    paths = [base.with_suffix(".csv"), base.with_suffix(".md"), base.with_suffix(".tex")]
    write_text(paths[0], to_csv(rows, columns, digits))
    write_text(paths[1], to_markdown(rows, columns, digits, title))
    write_text(paths[2], to_latex(rows, columns, digits, title, f"tab:{base.name}"))
    return paths
