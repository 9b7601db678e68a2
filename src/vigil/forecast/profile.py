"""The fleet default: robust seasonal profiles plus a damped level/trend, vectorised over series.

For every series at once, a few variants of one idea, each cheap array arithmetic:
  - profile: the median, over the last `profile_days` days, of each hour's deviation from its day's
    mean (a median so one bad day does not bend tomorrow); also over the last `recent_days` days (a
    daily shape that just changed) and, with enough history, a weekly profile over `profile_weeks`;
  - level and trend: damped Holt smoothing of the deseasonalised series, for a few smoothing rates;
  - each on the original scale and, for series that never go negative, on log scale (traffic that
    grows multiplies its daily swing rather than adding to it).
Model choice and intervals come from calibration: every variant is refitted at the last `cal_origins`
day boundaries and scored on the day that followed. Per series, the best variant and those within
`combine_within` of it (up to `combine`) are averaged. Intervals come from calibration errors made
honest (each day forecast by the combination chosen on the other days): an error scale x empirical
quantiles, in log space for non-negative series, then one factor per series chosen so that the band
as served (widths non-decreasing with horizon) covers the conformal quantile of the calibration
points, and a scale that follows the last two days' errors. Coverage comes from observed errors, not
a Gaussian guess.
10,000 series x 14 days hourly take ~5 s on one core."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vigil.forecast.base import FleetForecast, SeasonLength, as_series, future_ts, order_intervals, seasons, z_quantiles
from vigil.forecast.naive import _floor_of, fill_gaps, naive_many, row
from vigil.model import Forecast


@dataclass(frozen=True, slots=True)
class ProfileParams:
    profile_days: int = 7
    profile_weeks: int = 3
    recent_days: int = 2
    combine: int = 3  # average the forecasts of up to this many best variants per series
    relative_bands: bool = True
    combine_within: float = 1.2  # ... each with a calibration error within this factor of the best
    window_days: int = 28  # history beyond this is ignored (speed; old days say little)
    cal_origins: int = 7
    alphas: tuple[float, ...] = (0.05, 0.2, 0.5)
    beta: float = 0.05
    phi: float = 0.9
    min_seasons: int = 3  # two to fit, one to calibrate on
    # Multiplier on calibration errors before taking quantiles.
    width_factor: float = 1.0
    # The band follows recent errors: times (error of the last `recent_error_days` calibration days /
    # error of all of them) ** `adapt`, the ratio clipped to 0.5-2 (one odd day must not swing it).
    adapt: float = 0.5
    recent_error_days: int = 2


def _profile(block: np.ndarray, units: int, m: int) -> np.ndarray:
    """(n, >= units*m) ending at the origin -> centred profile (n, m) indexed by phase: the median over
    the last `units` periods of each phase's deviation from its period's mean."""
    n = block.shape[0]
    b = block[:, -units * m:].reshape(n, units, m)
    dev = b - b.mean(axis=2, keepdims=True)
    s = np.median(dev, axis=1)
    return s - s.mean(axis=1, keepdims=True)


def _variant(G: np.ndarray, H: int, day: int, m: int, units: int, K: int,
             p: ProfileParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit on G[:, :end] for the end and the last K day boundaries before it (period m, profiled over
    up to `units` periods) and forecast from each: the forecast (n_alpha, n, H) from the end, and the
    calibration forecasts and errors (n_alpha, K, n, day), one day ahead of each boundary.

    All ends run through one smoothing loop (stacked as extra rows), so the Python loop runs once per
    time step, not once per step and end."""
    n, t = G.shape
    ends = [t - k * day for k in range(K + 1)]
    run = min(min(e, max(2 * m, min(units, e // m) * m)) for e in ends)
    profiles, zs = [], []
    for e in ends:
        s = _profile(G[:, :e], min(units, e // m), m)
        profiles.append(s)
        zs.append(G[:, e - run:e] - s[:, (np.arange(e - run, e) - e) % m])
    z = np.concatenate(zs)  # ((K+1)*n, run)
    A = np.asarray(p.alphas)[:, None]
    warm = min(m, run)
    level = np.broadcast_to(z[:, :warm].mean(axis=1), (len(p.alphas), z.shape[0])).copy()
    trend = np.zeros_like(level)
    for i in range(warm, run):
        prev = level
        level = A * z[None, :, i] + (1 - A) * (prev + p.phi * trend)
        trend = p.beta * (level - prev) + (1 - p.beta) * p.phi * trend
    steps = max(H, day)
    damp = np.cumsum(p.phi ** np.arange(1, steps + 1))
    season = np.concatenate(profiles)[:, np.arange(steps) % m]  # ((K+1)*n, steps)
    fc = (level[:, :, None] + trend[:, :, None] * damp + season[None]).reshape(len(p.alphas), K + 1, n, steps)
    cal = fc[:, 1:, :, :day]
    actual = np.stack([G[:, e:e + day] for e in ends[1:]]) if K else np.zeros((0, n, day))
    return fc[:, 0, :, :H], actual[None] - cal, cal


def _band(errors: np.ndarray, H: int, m: int, levels: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Calibration errors (K, n, m) -> per level (lo, hi) offsets (n, H), non-decreasing in width.

    One error scale per series (the mean absolute error over all calibration hours: per-hour scales
    from 7 days are mostly noise and measured worse), times pooled empirical quantiles of the scaled
    errors; beyond one season the scale grows with sqrt(seasons ahead)."""
    K, n, _ = errors.shape
    sigma = np.abs(errors).mean(axis=(0, 2))[:, None]  # (n, 1)
    steps = np.arange(H)
    scale = sigma * np.sqrt(steps // m + 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(sigma[None] > 0, errors / sigma[None], 0.0).transpose(1, 0, 2).reshape(n, -1)
    N = u.shape[1]
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for level in levels:
        a, b = z_quantiles(level)
        # Conformal finite-sample correction: a slightly wider quantile for N calibration errors.
        b_adj = min(1.0, np.ceil((N + 1) * b) / N)
        a_adj = max(0.0, 1.0 - b_adj)
        lo, hi = np.quantile(u, [a_adj, b_adj], axis=1)
        out[level] = (np.minimum(lo, 0.0)[:, None] * scale, np.maximum(hi, 0.0)[:, None] * scale)
    return out


FACTORS = np.round(np.arange(0.5, 2.001, 0.05), 2)


def _widen(center: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What order_intervals does to widths: each side's distance only grows with horizon."""
    return (center - np.maximum.accumulate(np.maximum(center - lo, 0.0), axis=-1),
            center + np.maximum.accumulate(np.maximum(hi - center, 0.0), axis=-1))


def _conformal_factor(actual: np.ndarray, cal: np.ndarray, off_lo: np.ndarray, off_hi: np.ndarray,
                      level: int, fwd, inv) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Per series, the smallest factor on the band offsets whose final band (widths made
    non-decreasing with horizon, as order_intervals will) covers at least the conformal quantile
    ceil((N+1) level) / N of the N calibration points. Calibrating the band that is actually served
    avoids the over-coverage that making widths monotone adds to a band sized before it."""
    K, n, m = actual.shape
    N = K * m
    target = min(1.0, np.ceil((N + 1) * level / 100.0) / N)
    factor = np.full(n, FACTORS[-1])
    found = np.zeros(n, dtype=bool)
    u = fwd(cal)
    for c in FACTORS:
        lo, hi = _widen(cal, inv(u + c * off_lo[None]), inv(u + c * off_hi[None]))
        hit = ~found & (((actual >= lo) & (actual <= hi)).mean(axis=(0, 2)) >= target)
        factor = np.where(hit, c, factor)
        found |= hit
        if found.all():
            break
    return factor


def _recent_ratio(errors: np.ndarray, days: int) -> np.ndarray:
    """(K, n, m) calibration errors, most recent day first -> per series, the mean absolute error of
    the last `days` days over that of all K days (1 where there is no error at all)."""
    e = np.abs(errors)
    recent, whole = e[:days].mean(axis=(0, 2)), e.mean(axis=(0, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip(np.where(whole > 0, recent / whole, 1.0), 0.5, 2.0)


def _leave_one_day_out(daily: np.ndarray) -> np.ndarray:
    """(..., K, n) per-day scores -> each day's score as the mean over the other K-1 days."""
    K = daily.shape[-2]
    return (daily.sum(axis=-2, keepdims=True) - daily) / max(K - 1, 1)


def _weights(S: np.ndarray, p: ProfileParams) -> np.ndarray:
    """Scores (V, ...) -> combination weights: the best `combine` variants, each within
    `combine_within` of the best (averaging in a poor one, e.g. a weekly profile on fast-growing
    traffic, costs more than combining gains), equally weighted."""
    top = np.argsort(S, axis=0)[: p.combine]
    weight = np.zeros_like(S)
    np.put_along_axis(weight, top, 1.0, axis=0)
    weight = np.where(np.isfinite(S) & (S <= p.combine_within * S.min(axis=0)), weight, 0.0)
    return weight / weight.sum(axis=0, keepdims=True)


def profile_many(Y: np.ndarray, h: int, season_length: SeasonLength, levels: Sequence[int] = (80,),
                 params: ProfileParams | None = None) -> FleetForecast:
    p = params or ProfileParams()
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    m = seasons(season_length)[0]
    n, t = Y.shape
    if m < 2 or t < p.min_seasons * m:
        why = (f"only {t} observations, the profile model needs {p.min_seasons} seasons of {m}"
               if m >= 2 else "no season to profile: seasonal naive")
        return naive_many(Y, h, levels, m, why)
    W = min(t, p.window_days * m)
    Yw = Y[:, t - W:]
    F = fill_gaps(Yw)
    empty = ~np.isfinite(F).any(axis=1)
    F = np.where(empty[:, None], 0.0, F)
    H = max(h, 1)

    K = min(p.cal_origins, t // m - 2, W // m - 2)
    nonneg = np.asarray((F >= 0).all(axis=1))
    # Log scale for series that never go negative (growing traffic multiplies its daily swing); the
    # shift keeps zeros finite.
    shift = 0.05 * np.abs(F).mean(axis=1, keepdims=True) + 1e-9
    L = np.log(np.where(nonneg[:, None], F, 0.0) + shift)
    actual = np.stack([F[:, W - k * m:W - k * m + m] for k in range(1, K + 1)])  # (K, n, m)
    candidates = [(False, m, p.profile_days), (True, m, p.profile_days)]
    if p.recent_days:  # a profile of the last day(s) only: follows a daily shape that just changed
        candidates += [(False, m, p.recent_days), (True, m, p.recent_days)]
    week = seasons(season_length)[-1] if len(seasons(season_length)) > 1 else 7 * m
    if W - K * m >= week + m:  # a weekly profile needs a week (plus a day for the level) at every origin
        candidates += [(False, week, p.profile_weeks), (True, week, p.profile_weeks)]
    rows, days = np.arange(n), np.arange(K)[:, None]
    scores, means, cals, held_scores, held_cals = [], [], [], [], []
    for logged, period, units in candidates:
        G = L if logged else F
        fc, _, cal = _variant(G, H, m, period, units, K, p)
        if logged:
            fc, cal = np.exp(fc) - shift, np.exp(cal) - shift
        err = np.abs(actual[None] - cal)  # (n_alpha, K, n, m), on the original scale
        score = err.mean(axis=(1, 3))  # (n_alpha, n)
        if logged:
            score = np.where(nonneg[None], score, np.inf)
        ai = score.argmin(axis=0)
        scores.append(score[ai, rows])
        means.append(fc[ai, rows])
        if K <= 1:  # with one calibration day there is nothing to hold out
            cals.append(cal[ai, :, rows].transpose(1, 0, 2))  # (K, n, m)
        # The same choice of smoothing rate made without each calibration day (see below).
        held = _leave_one_day_out(err.mean(axis=3))  # (n_alpha, K, n)
        if logged:
            held = np.where(nonneg[None, None], held, np.inf)
        bk = held.argmin(axis=0)  # (K, n)
        held_scores.append(held[bk, days, rows[None]])
        held_cals.append(cal[bk, days, rows[None]])  # (K, n, m)
    weight = _weights(np.stack(scores), p)  # (V, n)
    best_fc = np.einsum("vn,vnh->nh", weight, np.stack(means))
    # Intervals come from errors on calibration days, so those errors must be honest: each day's
    # forecast is the combination chosen on the other days (errors of a choice made on the same days
    # are optimistic, and the bands came out too narrow where errors come in whole-day shifts).
    held_weight = _weights(np.stack(held_scores), p) if K > 1 else weight[:, None]  # (V, K, n)
    comb_cal = np.einsum("vkn,vknm->knm", held_weight, np.stack(held_cals if K > 1 else cals))
    # Bands for series that never go negative are taken in log space: errors scale with the level,
    # so a peak gets a wider band than a trough.
    rel = (nonneg & p.relative_bands)[:, None]
    fwd = lambda x: np.where(rel, np.log(np.maximum(x, 0.0) + shift), x)  # noqa: E731
    inv = lambda u: np.where(rel, np.exp(u) - shift, u)  # noqa: E731
    errors = (fwd(actual) - fwd(comb_cal)) * p.width_factor
    band = _band(errors, max(H, m), m, levels)
    recent = _recent_ratio(errors, p.recent_error_days) ** p.adapt
    best_lo, best_hi = {}, {}
    for lv in levels:
        off_lo, off_hi = band[lv]
        c = _conformal_factor(actual, comb_cal, off_lo[:, :m], off_hi[:, :m], lv, fwd, inv) * recent
        best_lo[lv] = inv(fwd(best_fc) + c[:, None] * off_lo[:, :H])
        best_hi[lv] = inv(fwd(best_fc) + c[:, None] * off_hi[:, :H])

    floor = _floor_of(Y)
    mean = best_fc[:, :h]
    if floor is not None:
        mean = np.maximum(mean, floor)
    intervals = order_intervals(mean, {lv: (best_lo[lv][:, :h], best_hi[lv][:, :h]) for lv in levels}, floor)
    reasons: list[str | None] = [None] * n
    for i in np.flatnonzero(empty):
        reasons[i] = "no finite observations: forecast 0"
    return FleetForecast(mean=mean, intervals=intervals, model="profile", fallback_reasons=reasons)


class SeasonalProfile:
    """Forecaster over `profile_many` for one series (the fleet path calls `fit_predict_many`).

    Fitting is cheap, so `fit` keeps the recent history and `predict` does the work: the forecast
    for any horizon then comes from one code path, the same one the fleet uses."""

    kind = "profile"

    def __init__(self, params: ProfileParams | None = None) -> None:
        self.params = params or ProfileParams()
        self._y = np.zeros(0)
        self._ts: np.ndarray | None = None
        self._seasons: tuple[int, ...] = (1,)

    def fit(self, y: np.ndarray, season_length: SeasonLength, ts: np.ndarray | None = None) -> "SeasonalProfile":
        self._seasons = seasons(season_length)
        keep = self.params.window_days * self._seasons[0]
        self._y = as_series(y)[-keep:]
        self._ts = None if ts is None else np.asarray(ts, dtype=float)[-keep:]
        return self

    def predict(self, h: int, levels: Sequence[int] = (80,)) -> Forecast:
        try:
            fleet = profile_many(self._y[None, :], h, self._seasons, levels, self.params)
        except Exception as exc:  # noqa: BLE001 - any failure falls back, and says why
            fleet = naive_many(self._y[None, :], h, levels, self._seasons[0],
                               f"profile failed ({type(exc).__name__}: {exc}): seasonal naive")
        return row(fleet, 0, future_ts(self._ts, len(self._y), h), fleet.model)

    @classmethod
    def fit_predict_many(cls, Y: np.ndarray, h: int, season_length: SeasonLength,
                         levels: Sequence[int] = (80,)) -> FleetForecast:
        return profile_many(Y, h, season_length, levels)

    def get_state(self) -> dict[str, Any]:
        return {"y": self._y, "seasons": list(self._seasons), "ts": self._ts}

    def set_state(self, state: dict[str, Any]) -> None:
        self._y = as_series(state["y"])
        self._seasons = tuple(int(s) for s in state["seasons"])
        self._ts = None if state.get("ts") is None else np.asarray(state["ts"], dtype=float)
