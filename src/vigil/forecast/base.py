"""The forecaster plug point: fit on history, predict a horizon with mean and lo/hi per level.

Every forecaster falls back to seasonal naive (and, with less than one season of history, to the
last value) when it cannot do its job, and says why in `Forecast.fallback_reason`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from vigil.model import Forecast

SeasonLength = int | tuple[int, ...]


@runtime_checkable
class Forecaster(Protocol):
    kind: str

    def fit(self, y: np.ndarray, season_length: SeasonLength, ts: np.ndarray | None = None) -> "Forecaster":
        """Learn from history `y` (NaN allowed) sampled at a regular step; ts are epoch seconds."""

    def predict(self, h: int, levels: Sequence[int] = (80,)) -> Forecast:
        """Forecast the next `h` steps with mean and (lo, hi) per interval level."""

    def get_state(self) -> dict[str, Any]:
        """Everything needed to predict again after a restart (numbers, lists, arrays)."""

    def set_state(self, state: dict[str, Any]) -> None:
        ...


@dataclass(slots=True)
class FleetForecast:
    """Forecasts for many series at once: arrays of shape (n_series, h)."""

    mean: np.ndarray
    intervals: dict[int, tuple[np.ndarray, np.ndarray]]
    model: str
    # Per series: None when the model ran, else why it fell back.
    fallback_reasons: list[str | None]


def seasons(season_length: SeasonLength) -> tuple[int, ...]:
    """Season lengths as a sorted tuple of positive ints (the first is the shortest, e.g. a day)."""
    raw = (season_length,) if isinstance(season_length, (int, np.integer)) else tuple(season_length)
    out = tuple(sorted({int(s) for s in raw if int(s) >= 1}))
    if not out:
        raise ValueError(f"season_length must hold at least one positive int, got {season_length!r}")
    return out


def as_series(y: Any) -> np.ndarray:
    arr = np.asarray(y, dtype=float).ravel()
    return np.where(np.isfinite(arr), arr, np.nan)


def future_ts(ts: np.ndarray | None, n_obs: int, h: int) -> np.ndarray:
    """Timestamps of the h steps after the history: from ts when given (median step), else indices."""
    if ts is not None and len(ts) >= 2:
        t = np.asarray(ts, dtype=float)
        step = float(np.median(np.diff(t)))
        return t[-1] + step * np.arange(1, h + 1)
    if ts is not None and len(ts) == 1:
        return float(ts[0]) + np.arange(1, h + 1, dtype=float)
    return np.arange(n_obs, n_obs + h, dtype=float)


def z_quantiles(level: int) -> tuple[float, float]:
    """Lower and upper probabilities of a central interval at `level` percent."""
    if not 0 < level < 100:
        raise ValueError(f"interval level must be between 0 and 100, got {level}")
    a = (100 - level) / 200.0
    return a, 1.0 - a


def order_intervals(mean: np.ndarray, intervals: dict[int, tuple[np.ndarray, np.ndarray]],
                    floor: float | None = None) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Keep lo <= mean <= hi, widths non-decreasing with horizon, wider levels outside narrower ones,
    and clip at `floor` (e.g. 0 for counts) without breaking the order."""
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    lo_prev, hi_prev = mean, mean
    for level in sorted(intervals):
        lo, hi = intervals[level]
        # Further out is never more certain: each side's distance from the mean only grows or holds.
        lo = mean - np.maximum.accumulate(np.maximum(mean - lo, 0.0), axis=-1)
        hi = mean + np.maximum.accumulate(np.maximum(hi - mean, 0.0), axis=-1)
        lo = np.minimum(lo, lo_prev)
        hi = np.maximum(hi, hi_prev)
        if floor is not None:
            lo = np.maximum(lo, floor)
        out[level] = (lo, hi)
        lo_prev, hi_prev = lo, hi
    return out
