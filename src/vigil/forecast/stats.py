"""Exponential smoothing (AutoETS) and MSTL from statsforecast, for the series that earn them.

They are slow (AutoETS with a 24-period season takes ~0.3-0.5 s per series here), so they are
challengers for single important series, not the fleet default. Any failure inside statsforecast falls
back to seasonal naive with the error as the reason. statsforecast is imported lazily so importing
vigil.forecast does not pay for numba."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vigil.forecast.base import SeasonLength, as_series, future_ts, order_intervals, seasons
from vigil.forecast.naive import _floor_of, fill_gaps, naive_many, row
from vigil.model import Forecast

MAX_HISTORY_SEASONS = 28  # statsforecast's cost grows with history; four weeks of days is plenty


class _StatsForecaster:
    kind = "stats"

    def __init__(self) -> None:
        self._y = np.zeros(0)
        self._ts: np.ndarray | None = None
        self._seasons: tuple[int, ...] = (1,)
        self._model: Any = None
        self._why: str | None = None

    def _build(self, n_obs: int) -> Any:
        raise NotImplementedError

    def _min_obs(self) -> int:
        return 2 * self._seasons[0]

    def fit(self, y: np.ndarray, season_length: SeasonLength, ts: np.ndarray | None = None) -> "_StatsForecaster":
        self._seasons = seasons(season_length)
        keep = MAX_HISTORY_SEASONS * max(self._seasons[0], 1)
        self._y = as_series(y)[-keep:]
        self._ts = None if ts is None else np.asarray(ts, dtype=float)[-keep:]
        self._model, self._why = None, None
        finite = np.isfinite(self._y)
        if len(self._y) < self._min_obs():
            self._why = f"only {len(self._y)} observations, {self.kind} needs {self._min_obs()}"
        elif not finite.any():
            self._why = "no finite observations"
        elif np.nanmax(self._y) == np.nanmin(self._y):
            self._why = f"constant series: {self.kind} has nothing to fit"
        else:
            try:
                self._model = self._build(len(self._y)).fit(fill_gaps(self._y[None, :])[0])
            except Exception as exc:  # noqa: BLE001 - statsforecast raises many kinds; all fall back
                self._why = f"{self.kind} fit failed ({type(exc).__name__}: {exc})"
        return self

    def predict(self, h: int, levels: Sequence[int] = (80,)) -> Forecast:
        ts = future_ts(self._ts, len(self._y), h)
        if self._model is not None:
            try:
                out = self._model.predict(h, level=list(levels))
                mean = np.asarray(out["mean"], dtype=float)
                intervals = {lv: (np.asarray(out[f"lo-{lv}"], float), np.asarray(out[f"hi-{lv}"], float))
                             for lv in levels}
                if not np.isfinite(mean).all() or not all(np.isfinite(a).all() for p in intervals.values()
                                                          for a in p):
                    raise ValueError("non-finite forecast")
                floor = _floor_of(self._y)
                if floor is not None:
                    mean = np.maximum(mean, floor)
                return Forecast(ts=ts, mean=mean, intervals=order_intervals(mean, intervals, floor),
                                model=self.kind)
            except Exception as exc:  # noqa: BLE001
                self._why = f"{self.kind} predict failed ({type(exc).__name__}: {exc})"
        m = self._seasons[0] if self._seasons[0] > 1 else None
        fleet = naive_many(self._y[None, :], h, levels, m)
        reason = f"{self._why}: {fleet.model}" + (f" ({fleet.fallback_reasons[0]})" if fleet.fallback_reasons[0]
                                                  else "")
        forecast = row(fleet, 0, ts, fleet.model)
        forecast.fallback_reason = reason
        return forecast

    def get_state(self) -> dict[str, Any]:
        # statsforecast models are refitted from the kept history on load: deterministic, and no
        # pickled code in the store.
        return {"y": self._y, "seasons": list(self._seasons), "ts": self._ts}

    def set_state(self, state: dict[str, Any]) -> None:
        ts = state.get("ts")
        self.fit(np.asarray(state["y"], dtype=float), tuple(int(s) for s in state["seasons"]),
                 None if ts is None else np.asarray(ts, dtype=float))


class AutoETSForecaster(_StatsForecaster):
    """statsforecast AutoETS with the shortest season (model chosen by AICc)."""

    kind = "ets"

    def _build(self, n_obs: int) -> Any:
        from statsforecast.models import AutoETS

        m = self._seasons[0]
        return AutoETS(season_length=m if m > 1 and n_obs >= 2 * m else 1)


class MSTLForecaster(_StatsForecaster):
    """statsforecast MSTL: one seasonal component per season that has two full cycles of history
    (day and week on hourly data), trend by a non-seasonal AutoETS."""

    kind = "mstl"

    def _build(self, n_obs: int) -> Any:
        from statsforecast.models import MSTL, AutoETS

        day = self._seasons[0]
        candidates = self._seasons if len(self._seasons) > 1 else (day, 7 * day)
        usable = [s for s in candidates if s > 1 and n_obs >= 2 * s]
        if not usable:
            raise ValueError(f"no season with two full cycles in {n_obs} observations")
        return MSTL(season_length=usable, trend_forecaster=AutoETS(model="ZZN"))
