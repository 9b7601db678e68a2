"""Rolling-origin backtests: refit at each origin, forecast the next h steps, score what happened.

Metrics (NaN outcomes are skipped):
- `mase`: mean absolute error scaled by the in-sample mean absolute one-season difference (Hyndman's
  MASE with seasonal period m), averaged over windows;
- `relative_mae`: the model's MAE over the windows divided by seasonal naive's MAE on the same
  windows (< 1 means it beats seasonal naive where it was actually tested);
- `smape`: symmetric MAPE in percent (0..200), 0/0 counted as 0;
- `coverage_80` (`coverage`): share of outcomes inside the interval at `level`;
- `under_forecast_rate`: share of outcomes above the interval's upper bound (what a scaler that
  provisions for the upper bound would have missed; ~10% for a calibrated 80% interval)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from vigil.forecast.base import Forecaster, SeasonLength, seasons
from vigil.forecast.naive import naive_many
from vigil.forecast.registry import create


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    err = np.abs(np.asarray(actual, float) - np.asarray(forecast, float))
    return float(np.nanmean(err)) if np.isfinite(err).any() else float("nan")


def seasonal_scale(insample: np.ndarray, m: int) -> float:
    """Mean absolute one-season difference of the history: MASE's denominator."""
    y = np.asarray(insample, float)
    if len(y) <= m:
        m = 1
    d = np.abs(y[m:] - y[:-m])
    return float(np.nanmean(d)) if np.isfinite(d).any() else float("nan")


def mase(actual: np.ndarray, forecast: np.ndarray, insample: np.ndarray, m: int) -> float:
    scale = seasonal_scale(insample, m)
    err = mae(actual, forecast)
    if not np.isfinite(scale) or not np.isfinite(err):
        return float("nan")
    if scale == 0:
        return 0.0 if err == 0 else float("inf")
    return err / scale


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    a, f = np.asarray(actual, float), np.asarray(forecast, float)
    den = np.abs(a) + np.abs(f)
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(den == 0, 0.0, 2.0 * np.abs(a - f) / den)
    terms = terms[np.isfinite(a)]
    return float(100.0 * terms.mean()) if terms.size else float("nan")


def coverage(actual: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    a = np.asarray(actual, float)
    ok = np.isfinite(a)
    return float(((a >= lo) & (a <= hi))[ok].mean()) if ok.any() else float("nan")


def under_forecast_rate(actual: np.ndarray, hi: np.ndarray) -> float:
    a = np.asarray(actual, float)
    ok = np.isfinite(a)
    return float((a > hi)[ok].mean()) if ok.any() else float("nan")


def rolling_origins(n_obs: int, h: int, step: int, windows: int, min_train: int) -> list[int]:
    """The last `windows` origins, `step` apart, each with `min_train` history and h outcomes after it."""
    last = n_obs - h
    origins = [last - k * step for k in range(windows)]
    return sorted(o for o in origins if o >= min_train)


@dataclass(slots=True)
class BacktestResult:
    kind: str
    mase: float
    relative_mae: float
    smape: float
    coverage: float
    under_forecast_rate: float
    level: int
    windows: int
    fallbacks: int
    seconds: float
    fallback_reasons: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        """One number for champion/challenger: MASE, plus how far coverage strays outside +-5 points
        of nominal (a sharp but over-confident model must not win)."""
        if not np.isfinite(self.mase):
            return float("inf")
        miss = abs(self.coverage - self.level / 100.0) - 0.05 if np.isfinite(self.coverage) else 1.0
        return float(self.mase + max(0.0, miss))

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["score"] = self.score
        return out


def backtest(y: np.ndarray, forecaster: str | Callable[[], Forecaster], season_length: SeasonLength,
             h: int = 24, *, windows: int = 7, step: int | None = None, min_train: int | None = None,
             level: int = 80, ts: np.ndarray | None = None) -> BacktestResult:
    """Rolling-origin backtest of one forecaster kind (or factory) on one series."""
    y = np.asarray(y, dtype=float)
    m = seasons(season_length)[0]
    step = step or max(m, 1)
    min_train = min_train if min_train is not None else 3 * m
    make = (lambda: create(forecaster)) if isinstance(forecaster, str) else forecaster
    kind = forecaster if isinstance(forecaster, str) else make().kind
    origins = rolling_origins(len(y), h, step, windows, min_train)
    mases, errs, naive_errs, smapes, covs, unders, reasons = [], [], [], [], [], [], []
    seconds = 0.0
    for o in origins:
        train, actual = y[:o], y[o:o + h]
        t0 = time.perf_counter()
        fc = make().fit(train, season_length, None if ts is None else ts[:o]).predict(h, (level,))
        seconds += time.perf_counter() - t0
        lo, hi = fc.intervals[level]
        naive = naive_many(train[None, :], h, (level,), m if len(train) >= m else None).mean[0]
        mases.append(mase(actual, fc.mean, train, m))
        errs.append(mae(actual, fc.mean))
        naive_errs.append(mae(actual, naive))
        smapes.append(smape(actual, fc.mean))
        covs.append(coverage(actual, lo, hi))
        unders.append(under_forecast_rate(actual, hi))
        if fc.fallback_reason:
            reasons.append(fc.fallback_reason)

    def avg(xs: list[float]) -> float:
        arr = np.asarray(xs, float)
        arr = arr[np.isfinite(arr)]
        return float(arr.mean()) if arr.size else float("nan")

    naive_total = np.nansum(naive_errs)
    rel = float(np.nansum(errs) / naive_total) if naive_total > 0 else float("nan")
    return BacktestResult(kind=kind, mase=avg(mases), relative_mae=rel, smape=avg(smapes),
                          coverage=avg(covs), under_forecast_rate=avg(unders), level=level,
                          windows=len(origins), fallbacks=len(reasons), seconds=seconds,
                          fallback_reasons=sorted(set(reasons))[:5])
