"""Seasonal naive (repeat the last day, or the last week) and the last-value naive it falls back to.

Both are vectorised over series: they are the floor every other forecaster falls back to, and the
baseline every backtest is scaled by. Intervals are empirical quantiles of the model's own past
errors (one-season differences), widened by sqrt(seasons ahead) beyond the first season."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vigil.forecast.base import FleetForecast, SeasonLength, as_series, future_ts, order_intervals, seasons, z_quantiles
from vigil.model import Forecast

CALIBRATION_SEASONS = 14  # how many seasons of past errors set the interval width


def fill_gaps(Y: np.ndarray) -> np.ndarray:
    """Forward-fill NaNs per row (leading NaNs take the first finite value); all-NaN rows stay NaN."""
    Y = np.asarray(Y, dtype=float)
    valid = np.isfinite(Y)
    if valid.all():
        return Y
    n, t = Y.shape
    idx = np.where(valid, np.arange(t), -1)
    np.maximum.accumulate(idx, axis=1, out=idx)
    first = np.where(valid.any(axis=1), valid.argmax(axis=1), 0)
    idx = np.where(idx < 0, first[:, None], idx)
    return Y[np.arange(n)[:, None], idx]


def _quantile_band(errors: np.ndarray, levels: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per-row (lo, hi) error quantiles for each level; errors (n, k) may hold NaN."""
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    finite = np.isfinite(errors)
    quantile = np.quantile if finite.all() else np.nanquantile  # nanquantile is ~10x slower
    safe = np.where(finite.any(axis=1)[:, None], errors, 0.0)
    for level in levels:
        a, b = z_quantiles(level)
        lo, hi = quantile(safe, [a, b], axis=1)
        out[level] = (np.minimum(lo, 0.0), np.maximum(hi, 0.0))
    return out


def _floor_of(Y: np.ndarray) -> float | None:
    """Series that never went below zero (counts, utilisation, bytes) are never forecast below it."""
    finite = Y[np.isfinite(Y)]
    return 0.0 if finite.size and finite.min() >= 0 else None


def naive_many(Y: np.ndarray, h: int, levels: Sequence[int], m: int | None,
               reason: str | None = None) -> FleetForecast:
    """Seasonal naive with period m over rows of Y; last-value naive when m is None or too long."""
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    n, t = Y.shape
    reasons: list[str | None] = [reason] * n
    if m is not None and t < m:
        m, why = None, f"only {t} observations, less than one season ({m}): last-value naive"
        reasons = [why] * n
    F = fill_gaps(Y) if t else np.zeros((n, 0))
    empty = ~np.isfinite(F).any(axis=1) if t else np.ones(n, dtype=bool)
    for i in np.flatnonzero(empty):
        reasons[i] = "no finite observations: forecast 0"
    F = np.where(np.isfinite(F), F, 0.0)
    if t == 0:
        F = np.zeros((n, 1))
        t = 1
    j = np.arange(h)
    if m is None:
        mean = np.repeat(F[:, -1:], h, axis=1)
        errors = (F[:, 1:] - F[:, :-1])[:, -CALIBRATION_SEASONS * 24:]
        growth = np.sqrt(j + 1.0)
    else:
        mean = F[:, t - m + (j % m)]
        errors = (F[:, m:] - F[:, :-m])[:, -CALIBRATION_SEASONS * m:]
        growth = np.sqrt(j // m + 1.0)
    if errors.shape[1] == 0:
        errors = np.zeros((n, 1))
    band = _quantile_band(errors, levels)
    floor = _floor_of(Y)
    if floor is not None:
        mean = np.maximum(mean, floor)
    intervals = {lv: (mean + lo[:, None] * growth, mean + hi[:, None] * growth) for lv, (lo, hi) in band.items()}
    intervals = order_intervals(mean, intervals, floor)
    return FleetForecast(mean=mean, intervals=intervals, model="seasonal_naive" if m else "naive",
                         fallback_reasons=reasons)


def row(fleet: FleetForecast, i: int, ts: np.ndarray, model: str) -> Forecast:
    return Forecast(ts=ts, mean=fleet.mean[i].copy(),
                    intervals={lv: (lo[i].copy(), hi[i].copy()) for lv, (lo, hi) in fleet.intervals.items()},
                    model=model, fallback_reason=fleet.fallback_reasons[i])


class SeasonalNaive:
    """Tomorrow looks like today (`period="day"`, the shortest season) or like the same day last week
    (`period="week"`: the longest season if several are given, else 7 x the shortest)."""

    def __init__(self, period: str = "day") -> None:
        if period not in ("day", "week"):
            raise ValueError(f"period must be 'day' or 'week', got {period!r}")
        self.period = period
        self.kind = "seasonal_naive" if period == "day" else "seasonal_naive_week"
        self._y = np.zeros(0)
        self._ts: np.ndarray | None = None
        self._seasons: tuple[int, ...] = (1,)

    def _period(self, n_obs: int) -> tuple[int, str | None]:
        day = self._seasons[0]
        if self.period == "day":
            return day, None
        week = self._seasons[-1] if len(self._seasons) > 1 else 7 * day
        if n_obs < week:
            return day, f"only {n_obs} observations, less than a week ({week}): daily seasonal naive"
        return week, None

    def fit(self, y: np.ndarray, season_length: SeasonLength, ts: np.ndarray | None = None) -> "SeasonalNaive":
        self._seasons = seasons(season_length)
        # Keep only what predict needs: the period plus the seasons its intervals are calibrated on.
        keep = (CALIBRATION_SEASONS + 1) * max(self._seasons[-1], 7 * self._seasons[0])
        self._y = as_series(y)[-keep:]
        self._ts = None if ts is None else np.asarray(ts, dtype=float)[-keep:]
        return self

    def predict(self, h: int, levels: Sequence[int] = (80,)) -> Forecast:
        m, reason = self._period(len(self._y))
        fleet = naive_many(self._y[None, :], h, levels, m, reason)
        model = self.kind if fleet.model == "seasonal_naive" else fleet.model
        return row(fleet, 0, future_ts(self._ts, len(self._y), h), model)

    @classmethod
    def fit_predict_many(cls, Y: np.ndarray, h: int, season_length: SeasonLength,
                         levels: Sequence[int] = (80,)) -> FleetForecast:
        probe = cls()
        probe._seasons = seasons(season_length)
        m, reason = probe._period(np.atleast_2d(Y).shape[1])
        return naive_many(Y, h, levels, m, reason)

    def get_state(self) -> dict[str, Any]:
        return {"period": self.period, "y": self._y, "seasons": list(self._seasons),
                "ts": None if self._ts is None else self._ts}

    def set_state(self, state: dict[str, Any]) -> None:
        self.__init__(state["period"])  # type: ignore[misc]
        self._y = as_series(state["y"])
        self._seasons = tuple(int(s) for s in state["seasons"])
        self._ts = None if state.get("ts") is None else np.asarray(state["ts"], dtype=float)


class SeasonalNaiveWeek(SeasonalNaive):
    def __init__(self, period: str = "week") -> None:
        super().__init__(period)
