"""Capacity warnings as signals: "disk full in 3 days", "CPU above 80% expected at 14:00 tomorrow".

Two questions, two tools:
- `limit_crossing`: will a forecast (any forecaster, with its intervals) cross a limit within its
  horizon, and when? Good for cyclic load against a ceiling (CPU, connections, request rate).
- `time_to_limit`: when will a steadily growing series reach a limit? A linear trend over a recent
  window (damped trends never fill a disk), with the slope's uncertainty giving an earliest/latest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np

from vigil.model import Forecast, Severity, Signal

DAY = 86_400.0


def when(ts: float, now: float, tz: timezone = UTC) -> str:
    """'14:00 today', '14:00 tomorrow', '14:00 on Wed 25 Nov' (in tz, UTC unless told)."""
    at, ref = datetime.fromtimestamp(ts, tz), datetime.fromtimestamp(now, tz)
    days = (at.date() - ref.date()).days
    clock = at.strftime("%H:%M")
    if days == 0:
        return f"{clock} today"
    if days == 1:
        return f"{clock} tomorrow"
    return f"{clock} on {at.strftime('%a %d %b')}"


def duration(seconds: float) -> str:
    """A human duration, in the largest unit that gives at least 1: '3 days', '5 hours', '20 minutes'."""
    td = timedelta(seconds=max(0.0, seconds))
    if td >= timedelta(days=2):
        return f"{td.total_seconds() / DAY:.0f} days"
    if td >= timedelta(hours=2):
        return f"{td.total_seconds() / 3600:.0f} hours"
    if td >= timedelta(minutes=2):
        return f"{td.total_seconds() / 60:.0f} minutes"
    return f"{td.total_seconds():.0f} seconds"


def _severity(lead: float) -> Severity:
    if lead < DAY:
        return Severity.CRITICAL
    if lead < 7 * DAY:
        return Severity.WARNING
    return Severity.INFO


def limit_crossing(forecast: Forecast, limit: float, *, now: float, service: str, series: str,
                   what: str = "value", unit: str = "", level: int = 80, below: bool = False,
                   tz: timezone = UTC) -> Signal | None:
    """A capacity signal at the first forecast step where the mean crosses `limit` (above it, or below
    it with `below=True`); if only the interval's bound crosses, an INFO-level "possible" signal."""
    lo, hi = forecast.intervals.get(level, (forecast.mean, forecast.mean))
    sign = -1.0 if below else 1.0
    expected = np.flatnonzero(sign * (forecast.mean - limit) > 0)
    possible = np.flatnonzero(sign * ((lo if below else hi) - limit) > 0)
    if expected.size == 0 and possible.size == 0:
        return None
    likely = expected.size > 0
    i = int(expected[0] if likely else possible[0])
    at = float(forecast.ts[i])
    word = "below" if below else "above"
    interval = f"{level}% interval {lo[i]:.4g}-{hi[i]:.4g}{unit}"
    reason = (f"{what} {word} {limit:g}{unit} {'expected' if likely else 'possible'} at {when(at, now, tz)} "
              f"(forecast {forecast.mean[i]:.4g}{unit}, {interval}; model {forecast.model})")
    if forecast.fallback_reason:
        reason += f"; fallback: {forecast.fallback_reason}"
    severity = _severity(at - now) if likely else Severity.INFO
    return Signal(ts=now, service=service, series=series, kind="capacity", severity=severity,
                  score=1.0 if likely else 0.5, reason=reason, source=f"forecast:{forecast.model}",
                  window_start=at, window_end=float(forecast.ts[-1]),
                  evidence={"limit": limit, "at": at, "step": i, "mean": float(forecast.mean[i]),
                            "lo": float(lo[i]), "hi": float(hi[i]), "level": level, "likely": likely})


def time_to_limit(y: np.ndarray, ts: np.ndarray, limit: float, *, now: float, service: str, series: str,
                  what: str = "disk", unit: str = "", verb: str = "full", window: float = 7 * DAY,
                  horizon: float = 30 * DAY) -> Signal | None:
    """'disk full in 3 days': linear trend of the last `window` seconds extrapolated to `limit`, with
    an earliest/latest from the slope's 80% band. None if not growing or not within `horizon`."""
    y, ts = np.asarray(y, float), np.asarray(ts, float)
    keep = np.isfinite(y) & (ts >= ts[-1] - window) if len(ts) else np.zeros(0, bool)
    y, ts = y[keep], ts[keep]
    if len(y) < 3 or np.ptp(ts) == 0:
        return None
    t0 = ts[-1]
    x = ts - t0
    slope, intercept = np.polyfit(x, y, 1)
    if slope <= 0:
        return None
    resid = y - (slope * x + intercept)
    se = np.sqrt(np.sum(resid**2) / max(len(y) - 2, 1) / np.sum((x - x.mean()) ** 2))
    current = slope * (now - t0) + intercept
    if current >= limit:
        eta, earliest, latest = now, now, now
    else:
        eta = t0 + (limit - intercept) / slope
        fast, slow = slope + 1.2816 * se, max(slope - 1.2816 * se, 1e-300)
        earliest, latest = t0 + (limit - intercept) / fast, t0 + (limit - intercept) / slow
    lead = eta - now
    if lead > horizon:
        return None
    rate = slope * DAY
    reason = (f"{what} {verb} in {duration(lead)} (at {when(eta, now)}; 80% between {duration(earliest - now)} and "
              f"{duration(latest - now) if np.isfinite(latest) else 'never'}): now {current:.4g}{unit} of "
              f"{limit:g}{unit}, growing {rate:.4g}{unit}/day over the last {duration(np.ptp(ts))}")
    return Signal(ts=now, service=service, series=series, kind="capacity", severity=_severity(lead),
                  score=float(min(1.0, DAY / max(lead, 1.0))), reason=reason, source="trend:linear",
                  window_start=float(ts[0]), window_end=float(ts[-1]),
                  evidence={"limit": limit, "eta": float(eta), "earliest": float(earliest),
                            "latest": float(latest), "slope_per_s": float(slope), "current": float(current)})
