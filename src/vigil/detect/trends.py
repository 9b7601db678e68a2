"""Slow problems: memory leaks (sustained growth) and distribution drift (KS and PSI)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from vigil.detect.rules import _fit
from vigil.model import Severity, Signal


def memory_leak(service: str, series: str, ts: np.ndarray, values: np.ndarray, limit: float | None = None,
                min_growth_pct_per_h: float = 2.0, min_r2: float = 0.8, min_span_s: float = 1800.0
                ) -> Signal | None:
    """Sustained growth: a good linear fit (r^2) whose slope is above `min_growth_pct_per_h` of the
    current level, over at least `min_span_s`. Reports the projected time to `limit` when given."""
    ts, values = np.asarray(ts, float), np.asarray(values, float)
    if ts.size < 3 or np.nanmax(ts) - np.nanmin(ts) < min_span_s:
        return None
    fit = _fit(ts, values)
    if fit is None:
        return None
    slope, level, r2 = fit
    growth = 100.0 * slope * 3600.0 / abs(level) if level else 0.0
    if r2 < min_r2 or growth < min_growth_pct_per_h:
        return None
    eta = (limit - level) / slope if limit is not None and slope > 0 and limit > level else None
    tail = f"; reaches the limit {limit:.4g} in {eta / 3600:.1f} h" if eta is not None else ""
    severity = Severity.CRITICAL if eta is not None and eta < 3600 else Severity.WARNING
    return Signal(ts=float(ts[-1]), service=service, series=series, kind="leak", severity=severity,
                  score=float(min(1.0, r2 * growth / (2 * min_growth_pct_per_h))), source="trend:leak",
                  reason=f"growing {growth:.1f} %/h ({slope * 3600:.4g}/h, r2 {r2:.2f}) for "
                         f"{(ts[-1] - ts[0]) / 60:.0f} min{tail}",
                  window_start=float(ts[0]), window_end=float(ts[-1]),
                  evidence={"slope_per_h": slope * 3600, "growth_pct_per_h": growth, "r2": r2, "eta_s": eta})


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index over the reference's quantile bins (0.1 small, > 0.2 a real shift)."""
    ref = reference[np.isfinite(reference)]
    cur = current[np.isfinite(current)]
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)))
    if edges.size < 2:
        return 0.0 if np.allclose(cur, ref[0]) else float("inf")
    edges[0], edges[-1] = -np.inf, np.inf
    p = np.histogram(ref, edges)[0] / ref.size
    q = np.histogram(cur, edges)[0] / cur.size
    p, q = np.clip(p, 1e-6, None), np.clip(q, 1e-6, None)
    return float(np.sum((q - p) * np.log(q / p)))


def drift(service: str, series: str, reference: np.ndarray, current: np.ndarray, now: float,
          ks_alpha: float = 0.01, psi_limit: float = 0.2, min_points: int = 30) -> Signal | None:
    """Drift between a reference and a current window: both a two-sample KS test and PSI must agree
    (KS alone flags trivial shifts on large samples). The forecasting stage retrains on these."""
    ref = np.asarray(reference, float)
    cur = np.asarray(current, float)
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    if ref.size < min_points or cur.size < min_points:
        return None
    ks = stats.ks_2samp(ref, cur)
    index = psi(ref, cur)
    if ks.pvalue >= ks_alpha or index < psi_limit:
        return None
    return Signal(ts=now, service=service, series=series, kind="drift", severity=Severity.INFO,
                  score=float(min(1.0, index / (2 * psi_limit))), source="trend:drift",
                  reason=f"distribution moved: KS D={ks.statistic:.2f} (p={ks.pvalue:.1e}), PSI {index:.2f} "
                         f"(median {np.median(ref):.4g} -> {np.median(cur):.4g})",
                  evidence={"ks_d": float(ks.statistic), "ks_p": float(ks.pvalue), "psi": index})
