"""The forecast floor of predictive scaling: how much demand to be ready for when replicas asked for now
are ready, and whether that forecast has earned the right to act.

Demand is observed every control period with a lag; a replica asked for now serves from now + start-up
delay until the next decision lands one period later. So the floor plans for the demand at
horizon = metric lag + start-up delay + control period after the observation.

The forecast for that horizon is the forecaster's predicted change (mean at now+horizon minus mean at
now, from the registered model, refit on the past as time advances) added to the latest observation.
Its upper bound is a split-conformal quantile of that forecast's own walk-forward relative errors over
the backtest window, so its coverage holds whatever the model. The same errors give the rolling backtest:
MASE = MAE(forecast) / MAE(seasonal naive) on the same points; the floor may act only while it is < 1.

Rough demand gets more. Its roughness compares the typical move over one period with the typical move
over the horizon's h periods: the move across the horizon is h times the one-period move for a steady
drift, sqrt(h) times for a random walk and about the same for white noise, so
roughness = log(h x one-period move / horizon move) / log(h) is 0 for drift (what moves over the
horizon can be extrapolated), 0.5 for a random walk and 1 for noise, whatever the horizon. On rough
demand (roughness >= `rough_above`) bursts come back: the floor keeps headroom for the largest
surprise (actual - forecast) of the last `burst_hold`, on top of the conformal bound, and the policy
holds scale-downs for `rough_down_window`. Where noise dominates (roughness >= `noisy_above`) a single
large error is noise, not a burst: only surprises sustained over `burst_periods` periods are held.
"""

from __future__ import annotations

import importlib
import math
from collections import deque
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np

from vigil.config.scaling import PredictiveSettings
from vigil.model import Forecast

# Forecaster kinds -> "module:Class". The forecast package's own registry is preferred when it exists.
_FALLBACK_KINDS = {
    "seasonal_profile": "vigil.forecast.profile:SeasonalProfile",
    "profile": "vigil.forecast.profile:SeasonalProfile",
    "seasonal_naive": "vigil.forecast.naive:SeasonalNaive",
    "none": "",
}
CANDIDATES = ("persistence", "trend", "level", "persistence+model", "trend+model", "level+model")
LEVEL_ALPHA = 0.1  # smoothed level: ~2.5 minutes at a 15 s period
TREND_DAMPING = 0.5


def make_forecaster(kind: str) -> Any | None:
    if kind == "none":
        return None
    try:
        reg = importlib.import_module("vigil.forecast.registry")
        registry = reg.FORECASTERS
        if kind in registry:
            return registry.create(kind)
    except ImportError:
        pass
    target = _FALLBACK_KINDS.get(kind)
    if not target:
        raise LookupError(f"unknown forecaster kind {kind!r}")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)()


class BurstHold:
    """The largest sustained surprise of the last `window` seconds: a monotonic deque, O(1) per period."""

    def __init__(self, window: float, max_sustain: int) -> None:
        self.window = window
        self._recent: deque[float] = deque(maxlen=max(1, max_sustain))  # the last surprises, any kind
        self._max: deque[tuple[float, float]] = deque()  # (time, surprise), surprises decreasing

    def add(self, now: float, surprise: float, sustain: int) -> None:
        """`sustain` periods: the surprise counted is the least of the last `sustain` (a burst lasts)."""
        self._recent.append(surprise)
        if len(self._recent) < sustain:
            return
        s = min(islice(reversed(self._recent), sustain)) if sustain > 1 else surprise
        q = self._max
        while q and q[-1][1] <= s:
            q.pop()
        q.append((now, s))

    def value(self, now: float) -> float:
        q = self._max
        while q and q[0][0] <= now - self.window:
            q.popleft()
        return max(0.0, q[0][1]) if q else 0.0


def roughness(y: np.ndarray, h: int) -> float | None:
    """log(h x median |1-period move| / median |h-period move|) / log(h), clipped to [0, 1]: 0 for a
    steady drift, 0.5 for a random walk, 1 for white noise. None with too little data or no movement."""
    if h < 2 or len(y) <= 10 * h:
        return None
    across = float(np.median(np.abs(y[h:] - y[:-h])))
    step = float(np.median(np.abs(np.diff(y))))
    if across <= 0 or step <= 0:
        return None
    return min(1.0, max(0.0, math.log(h * step / across) / math.log(h)))


@dataclass(slots=True)
class FloorEstimate:
    demand_now: float
    mean: float  # expected demand at now + horizon
    upper: float  # upper bound at the configured level
    horizon: float
    mase: float | None
    allowed: bool
    reason: str  # why it may or may not act
    model: str
    roughness: float | None = None
    rough: bool = False  # roughness >= rough_above: burst hold and the longer scale-down window apply
    burst: float = 0.0  # headroom held for a recent burst, in demand units (rough demand only)
    bound: float = 0.0  # the conformal upper bound alone (without the burst hold)

    def as_forecast(self, now: float, level: int) -> Forecast:
        t = np.array([now + self.horizon])
        return Forecast(ts=t, mean=np.array([self.mean]),
                        intervals={level: (np.array([self.demand_now]), np.array([self.upper]))},
                        model=self.model, fallback_reason=None if self.allowed else self.reason)


class ForecastFloor:
    """Walk-forward demand forecast for one service, fed one observation per control period."""

    def __init__(self, settings: PredictiveSettings, period: float, forecaster: Any | None = None) -> None:
        self.s = settings
        self.period = period
        self.horizon = settings.metric_lag + settings.startup_delay + period
        self.h_steps = max(1, int(math.ceil(self.horizon / period)))
        self.grid = max(settings.step, period)  # the forecaster's sampling step
        self.season_steps = max(1, int(round(settings.season / period)))
        hist = int(max(settings.history, 2 * settings.season) / period) + self.h_steps + 2
        self._y: deque[float] = deque(maxlen=hist)
        self._t0: float | None = None
        window = max(1, int(settings.backtest_window / period))
        # Candidate point forecasts, each alone and shifted by the model's predicted change; the one with
        # the lowest recent error is used. Persistence suits smooth demand, the local trend ramps, the
        # smoothed level noisy demand; the model's shift helps only where the daily shape is regular.
        self._pending: deque[tuple[float, ...]] = deque(maxlen=self.h_steps)  # awaiting their outcome
        self._err: list[deque[float]] = [deque(maxlen=window) for _ in CANDIDATES]  # actual - predicted (or relative)
        self._abs_err: list[deque[float]] = [deque(maxlen=window) for _ in CANDIDATES]
        self._abs_sum = [0.0 for _ in CANDIDATES]  # running sums: the backtest is read every 15 minutes
        self._window = window
        self._err_sn: deque[float] = deque(maxlen=window)  # |actual - seasonal naive|
        self._level: float | None = None
        self._best = 0
        self._model = forecaster if forecaster is not None else make_forecaster(settings.forecaster)
        self._model_name = getattr(self._model, "kind", "naive") if self._model is not None else "naive"
        self._path: list[float] | None = None  # forecaster's mean path on the grid
        self._path_t0 = 0.0
        self._next_fit = -math.inf
        self._next_cal = -math.inf
        self._q = 0.0
        self._mase: float | None = None
        self._fit_failure: str | None = None
        self._roughness: float | None = None
        self._hold = BurstHold(settings.burst_hold, settings.burst_periods)

    # ------------------------------------------------------------------ observations
    def observe(self, now: float, demand: float) -> None:
        """One observation per control period, in time order."""
        y = self._y
        if self._t0 is None:
            self._t0 = now
        if len(self._pending) == self.h_steps:  # the predictions made h steps ago are now due
            rel = self.s.relative_errors
            full = len(self._abs_err[0]) == self._window
            for i, pred in enumerate(self._pending[0]):
                self._err[i].append(((demand - pred) / pred if pred > 0 else 0.0) if rel else demand - pred)
                a = abs(demand - pred)
                ae = self._abs_err[i]
                if full:
                    self._abs_sum[i] -= ae[0]
                ae.append(a)
                self._abs_sum[i] += a
            if len(y) >= self.season_steps:
                self._err_sn.append(abs(demand - y[-self.season_steps]))
            if self.s.burst_hold > 0:
                self._hold.add(now, demand - self._pending[0][self._best], self._sustain())
        prev = y[-1] if y else demand
        y.append(demand)
        self._level = demand if self._level is None else self._level + LEVEL_ALPHA * (demand - self._level)
        if now >= self._next_fit:
            self._refit(now)
        if now >= self._next_cal:
            self._calibrate(now)
        delta = self._delta(now)
        trend = TREND_DAMPING * (demand - prev) * self.h_steps
        lvl = self._level
        self._pending.append((max(0.0, demand), max(0.0, demand + trend), max(0.0, lvl),
                              max(0.0, demand + delta), max(0.0, demand + trend + delta),
                              max(0.0, lvl + delta)))

    def _sustain(self) -> int:
        """Periods a surprise must last to count as a burst: one, unless noise dominates."""
        r = self._roughness
        return self.s.burst_periods if r is not None and r >= self.s.noisy_above else 1

    def _delta(self, now: float) -> float:
        """The model's expected change of demand from now to now + horizon."""
        if self._path is None:
            return 0.0
        pos_now = (now - self._path_t0) / self.grid
        pos_then = pos_now + self.horizon / self.grid
        n = len(self._path)
        if pos_then > n - 1 or pos_now < 0:
            return 0.0
        return _lerp(self._path, pos_then) - _lerp(self._path, pos_now)

    def _refit(self, now: float) -> None:
        self._next_fit = now + self.s.refit_every
        if self._model is None:
            return
        per = max(1, int(round(self.grid / self.period)))
        y = np.fromiter(self._y, dtype=float)
        n = (len(y) // per) * per
        m = int(round(self.s.season / self.grid))
        if n // per < 2 * m:
            return  # not two seasons yet: persistence only
        g = y[len(y) - n:].reshape(-1, per).mean(axis=1)
        h = int(math.ceil((self.s.refit_every + self.horizon) / self.grid)) + 2
        try:
            fc = self._model.fit(g, m).predict(h + 1, levels=(self.s.level,))
        except Exception as exc:  # noqa: BLE001 - a failed fit leaves persistence in charge, and says so
            self._path, self._fit_failure = None, f"forecaster failed: {type(exc).__name__}: {exc}"
            return
        self._fit_failure = fc.fallback_reason
        self._model_name = fc.model
        # The grid's last mean describes the bucket ending now: centre it half a bucket back.
        last = g[-1]
        self._path = np.concatenate([[last], np.asarray(fc.mean, dtype=float)]).tolist()
        self._path_t0 = now - self.grid / 2

    def _calibrate(self, now: float) -> None:
        self._next_cal = now + max(self.period, min(900.0, self.s.interval_window / 4))
        # Only the backtest window of the (two-week) history: read from the newest end, in O(window).
        recent = np.fromiter(islice(reversed(self._y), self._window), dtype=float)[::-1]
        self._roughness = roughness(recent, self.h_steps)
        n = len(self._abs_err[0])
        if n < 20:
            self._q, self._mase = 0.0, None
            return
        maes = [sm / n for sm in self._abs_sum]
        b = min(1.0, math.ceil((n + 1) * self.s.level / 100) / n)  # conformal finite-sample correction
        errs = [np.fromiter(e, dtype=float) for e in self._err]
        qs = [max(0.0, float(np.quantile(e, b))) for e in errs]
        # Optionally the bound is calibrated on recent errors only (interval_window shorter than the
        # backtest): volatility comes in bursts, a day-long window spreads a burst's margin thin.
        m = int(self.s.interval_window / self.period)
        if 20 <= m < n:
            recent_errs = [e[-m:] for e in errs]
            bm = min(1.0, math.ceil((m + 1) * self.s.level / 100) / m)
            qs_recent = [max(0.0, float(np.quantile(r, bm))) for r in recent_errs]
        else:
            qs_recent = qs
        # The candidate whose calibrated upper bound has been tightest: E[upper - actual] = q - E[error].
        self._best = int(np.argmin([q - float(e.mean()) for q, e in zip(qs, errs)]))
        self._q = qs_recent[self._best]
        sn = np.fromiter(self._err_sn, dtype=float)
        k = min(len(sn), n)
        if k < max(20, self.s.min_backtest / self.period):  # a few minutes of backtest prove nothing
            self._mase = None
            return
        mae_sn = float(sn[-k:].mean())
        best_abs = self._abs_err[self._best]
        mae = maes[self._best] if k == n else float(np.fromiter(best_abs, dtype=float)[-k:].mean())
        self._mase = mae / mae_sn if mae_sn > 0 else (0.0 if mae == 0 else math.inf)

    # ------------------------------------------------------------------ the floor
    def estimate(self, now: float) -> FloorEstimate:
        if not self._y:
            return FloorEstimate(0.0, 0.0, 0.0, self.horizon, None, False, "no demand observed yet",
                                 self._model_name)
        demand = self._y[-1]
        mean = self._pending[-1][self._best] if self._pending else demand
        upper = mean * (1.0 + self._q) if self.s.relative_errors else mean + self._q
        mase = self._mase
        if mase is None:
            allowed, reason = False, "no backtest yet (needs one season of history): reactive"
        elif mase >= self.s.max_mase:
            allowed, reason = False, (f"backtest MASE {mase:.3f} >= {self.s.max_mase:g} "
                                      "(does not beat seasonal naive): reactive")
        else:
            allowed, reason = True, f"backtest MASE {mase:.3f} < {self.s.max_mase:g}"
        if self._fit_failure and allowed:
            reason += f"; {self._fit_failure}"
        name = CANDIDATES[self._best]
        model = name.replace("model", self._model_name) if name.endswith("model") else name
        r = self._roughness
        rough = r is not None and r >= self.s.rough_above
        burst = self._hold.value(now) if rough and self.s.burst_hold > 0 else 0.0
        return FloorEstimate(demand, mean, max(upper, mean + burst), self.horizon, mase, allowed, reason, model,
                             roughness=r, rough=rough, burst=burst, bound=upper)


def _lerp(path: list[float], pos: float) -> float:
    """Linear interpolation at a fractional index (np.interp costs more than this for one point)."""
    i = int(pos)
    if i >= len(path) - 1:
        return path[-1]
    f = pos - i
    return path[i] * (1.0 - f) + path[i + 1] * f
