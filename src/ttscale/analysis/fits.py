"""Scaling laws of coverage: the exponentiated power law and the Beta-distribution predictor.

- Brown et al. (2024) model coverage as c(k) = exp(a * k^b) with a < 0, b < 0. We fit log c(k) =
  a * k^b by nonlinear least squares (scipy.optimize.curve_fit) over the ks of the curve, started
  from the straight-line fit of log(-log c) on log k. Intervals for a and b are percentiles of the
  fits to the bootstrap replicates of the curve; goodness of fit is R^2 and RMSE in coverage units.
- Schaeffer et al. (2025) model each problem's single-sample success rate p as Beta(alpha, beta)
  distributed; then pass@k = 1 - B(alpha, beta + k) / B(alpha, beta), a power law in k for large
  k. We fit (alpha, beta) by maximum likelihood of the per-problem correct counts under the
  beta-binomial distribution (which handles problems never solved), and bootstrap over problems.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit, minimize
from scipy.special import betaln, gammaln

from ttscale.analysis.stats import interval


def power_law(k: np.ndarray, a: float, b: float) -> np.ndarray:
    """c(k) = exp(a * k^b)."""
    return np.exp(a * np.power(np.asarray(k, np.float64), b))


def _log_model(k: np.ndarray, a: float, b: float) -> np.ndarray:
    return a * np.power(k, b)


def _fit_once(k: np.ndarray, c: np.ndarray) -> tuple[float, float] | None:
    ok = (c > 0) & np.isfinite(c)
    k, c = k[ok], np.minimum(c[ok], 1.0)
    if len(k) < 2:
        return None
    inner = c < 1
    if inner.sum() >= 2:
        slope, icpt = np.polyfit(np.log(k[inner]), np.log(-np.log(c[inner])), 1)
        a0, b0 = -np.exp(icpt), min(slope, -1e-3)
    else:
        a0, b0 = min(np.log(c[0]), -1e-6), -0.5
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            (a, b), _ = curve_fit(_log_model, k, np.log(c), p0=(a0, max(b0, -9.9)),
                                  bounds=([-1e6, -10.0], [0.0, 0.0]), maxfev=20000)
    except (RuntimeError, ValueError):
        return None
    return float(a), float(b)


def fit_power_law(k: np.ndarray, c: np.ndarray, replicates: np.ndarray | None = None,
                  confidence: float = 0.95, min_points: int = 3) -> dict[str, Any]:
    """Fit c(k) = exp(a k^b) to a coverage curve; `replicates` (R x K) give the intervals."""
    k = np.asarray(k, np.float64)
    c = np.asarray(c, np.float64)
    usable = int(((c > 0) & np.isfinite(c)).sum())
    out: dict[str, Any] = {"a": np.nan, "b": np.nan, "a_lo": np.nan, "a_hi": np.nan, "b_lo": np.nan,
                           "b_hi": np.nan, "r2": np.nan, "rmse": np.nan, "n_points": usable,
                           "k_min": float(k.min()) if len(k) else np.nan,
                           "k_max": float(k.max()) if len(k) else np.nan, "ok": False, "note": ""}
    if usable < min_points:
        out["note"] = f"{usable} ks with coverage > 0; need {min_points}"
        return out
    fit = _fit_once(k, c)
    if fit is None:
        out["note"] = "the fit did not converge"
        return out
    a, b = fit
    pred = power_law(k, a, b)
    resid = c - pred
    ss_tot = float(np.sum((c - c.mean()) ** 2))
    out.update(a=a, b=b, ok=True, rmse=float(np.sqrt(np.mean(resid**2))),
               r2=float(1 - np.sum(resid**2) / ss_tot) if ss_tot > 0 else np.nan)
    if replicates is not None and len(replicates):
        params = [f for f in (_fit_once(k, r) for r in replicates) if f is not None]
        if len(params) >= 2:
            arr = np.array(params)
            (out["a_lo"], out["b_lo"]), (out["a_hi"], out["b_hi"]) = (tuple(x) for x in interval(arr, confidence))
            out["replicate_params"] = arr
    return out


def band(fit: dict[str, Any], k: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fitted curve at `k` and its pointwise interval from the replicate fits."""
    if not fit.get("ok"):
        nan = np.full(len(k), np.nan)
        return nan, nan, nan
    mid = power_law(k, fit["a"], fit["b"])
    reps = fit.get("replicate_params")
    if reps is None or len(reps) < 2:
        return mid, np.full(len(k), np.nan), np.full(len(k), np.nan)
    curves = np.exp(reps[:, :1] * np.power(np.asarray(k, np.float64)[None, :], reps[:, 1:2]))
    lo, hi = interval(curves, confidence)
    return mid, lo, hi


# --- Beta-distribution predictor -----------------------------------------------------------------

def beta_pass_at_k(alpha: float, beta: float, k: np.ndarray) -> np.ndarray:
    """E[1 - (1 - p)^k] for p ~ Beta(alpha, beta) = 1 - B(alpha, beta + k) / B(alpha, beta)."""
    k = np.asarray(k, np.float64)
    log_ratio = gammaln(beta + k) + gammaln(alpha + beta) - gammaln(beta) - gammaln(alpha + beta + k)
    return -np.expm1(log_ratio)


def _beta_nll(theta: np.ndarray, c: np.ndarray, n: np.ndarray, w: np.ndarray) -> float:
    a, b = np.exp(theta)
    return -float(np.sum(w * (betaln(c + a, n - c + b) - betaln(a, b))))


def _fit_beta_once(c: np.ndarray, n: np.ndarray, w: np.ndarray) -> tuple[float, float] | None:
    """ML fit on distinct (c, n) pairs with multiplicities w (a bootstrap replicate is just new w)."""
    p = c / n
    tot = w.sum()
    m = float(np.sum(w * p) / tot)
    v = float(np.sum(w * (p - m) ** 2) / tot)
    if 0 < m < 1 and 0 < v < m * (1 - m):
        common = m * (1 - m) / v - 1
        start = np.log([max(m * common, 1e-3), max((1 - m) * common, 1e-3)])
    else:
        start = np.log([0.5, 0.5])
    # Nelder-Mead: two parameters, a smooth likelihood, and several times faster than L-BFGS-B here
    res = minimize(_beta_nll, start, args=(c, n, w), method="Nelder-Mead",
                   options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 2000})
    if not np.all(np.isfinite(res.x)) or np.any(np.abs(res.x) > 25):
        return None
    a, b = np.exp(res.x)
    return float(a), float(b)


def fit_beta(c: np.ndarray, n: np.ndarray, counts: np.ndarray | None = None,
             confidence: float = 0.95) -> dict[str, Any]:
    """Beta-binomial maximum likelihood of per-problem correct counts; `counts` (R x P) bootstrap."""
    c = np.asarray(c, np.float64)
    n = np.asarray(n, np.float64)
    out: dict[str, Any] = {"alpha": np.nan, "beta": np.nan, "alpha_lo": np.nan, "alpha_hi": np.nan,
                           "beta_lo": np.nan, "beta_hi": np.nan, "ok": False}
    if len(c) < 2 or c.sum() == 0:
        out["note"] = "the Beta fit needs at least two problems and one correct sample"
        return out
    pairs, inv = np.unique(np.stack([c, n], axis=1), axis=0, return_inverse=True)
    inv = inv.ravel()
    uc, un = pairs[:, 0], pairs[:, 1]
    fit = _fit_beta_once(uc, un, np.bincount(inv, minlength=len(pairs)).astype(np.float64))
    if fit is None:
        out["note"] = "the Beta fit did not converge"
        return out
    out.update(alpha=fit[0], beta=fit[1], ok=True, note="")
    if counts is not None and len(counts):
        params = []
        for row in counts:
            w = np.bincount(inv, row, len(pairs))
            if np.sum(w * uc) > 0:
                f = _fit_beta_once(uc, un, w)
                if f is not None:
                    params.append(f)
        if len(params) >= 2:
            (out["alpha_lo"], out["beta_lo"]), (out["alpha_hi"], out["beta_hi"]) = (
                tuple(x) for x in interval(np.array(params), confidence))
            out["replicate_params"] = np.array(params)
    return out
