"""Declared rules: thresholds with `for:` and hysteresis, absence of data, rate of change, "will cross X
within T", and multi-window multi-burn-rate SLO alerts. Pure and clock-free: callers pass timestamps."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vigil.model import Severity, Signal


@dataclass
class ThresholdRule:
    """Fires when the value stays beyond `limit` for `for_s` seconds; clears only once it is back past
    `clear` (hysteresis; defaults to `limit`)."""

    service: str
    series: str
    limit: float
    above: bool = True
    for_s: float = 0.0
    clear: float | None = None
    severity: Severity = Severity.WARNING
    firing: bool = False
    since: float | None = None  # start of the current run beyond the limit (the `for:` clock)
    last_ts: float | None = field(default=None, repr=False)  # the last sample judged

    def _beyond(self, value: float, level: float) -> bool:
        return value > level if self.above else value < level

    def observe(self, ts: float, value: float) -> Signal | None:
        """Returns a Signal on the transition to firing (once per episode)."""
        if not np.isfinite(value):
            return None  # no evidence either way: keep the current state
        self.last_ts = ts
        if self.firing:
            if not self._beyond(value, self.clear if self.clear is not None else self.limit):
                self.firing, self.since = False, None
            return None
        if not self._beyond(value, self.limit):
            self.since = None
            return None
        if self.since is None:
            self.since = ts
        if ts - self.since < self.for_s:
            return None
        self.firing = True
        side = "above" if self.above else "below"
        return Signal(ts=ts, service=self.service, series=self.series, kind="threshold",
                      severity=self.severity, score=1.0, source="rule:threshold",
                      reason=f"value {value:.4g} has been {side} {self.limit:.4g} for {ts - self.since:.0f} s "
                             f"(rule: for {self.for_s:.0f} s)",
                      window_start=self.since, window_end=ts, evidence={"value": value, "limit": self.limit})


def absence(service: str, series: str, last_seen: float | None, now: float, for_s: float,
            severity: Severity = Severity.WARNING) -> Signal | None:
    """No sample for `for_s` seconds (or never)."""
    quiet = np.inf if last_seen is None else now - last_seen
    if quiet < for_s:
        return None
    what = "never received" if last_seen is None else f"no data for {quiet:.0f} s"
    return Signal(ts=now, service=service, series=series, kind="absence", severity=severity, score=1.0,
                  reason=f"{what} (rule: absent for {for_s:.0f} s)", source="rule:absence",
                  window_start=last_seen, window_end=now, evidence={"last_seen": last_seen})


def _fit(ts: np.ndarray, values: np.ndarray) -> tuple[float, float, float] | None:
    """Least-squares line (slope per second, value at the last timestamp, r^2) over finite points."""
    ok = np.isfinite(ts) & np.isfinite(values)
    t, v = ts[ok], values[ok]
    if t.size < 3 or np.ptp(t) <= 0:
        return None
    tc = t - t[-1]
    slope, intercept = np.polyfit(tc, v, 1)
    resid = v - (slope * tc + intercept)
    ss = float(np.sum((v - v.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid ** 2)) / ss if ss > 0 else 0.0
    return float(slope), float(intercept), r2


def rate_of_change(service: str, series: str, ts: np.ndarray, values: np.ndarray, max_per_s: float,
                   severity: Severity = Severity.WARNING) -> Signal | None:
    """Fires when the fitted rate over the given window exceeds `max_per_s` in magnitude."""
    fit = _fit(np.asarray(ts, float), np.asarray(values, float))
    if fit is None or abs(fit[0]) <= max_per_s:
        return None
    return Signal(ts=float(ts[-1]), service=service, series=series, kind="rate_of_change", severity=severity,
                  score=min(1.0, abs(fit[0]) / max_per_s / 2), source="rule:rate_of_change",
                  reason=f"changing at {fit[0]:.4g}/s, limit {max_per_s:.4g}/s",
                  window_start=float(ts[0]), window_end=float(ts[-1]), evidence={"rate_per_s": fit[0]})


def will_cross(service: str, series: str, ts: np.ndarray, values: np.ndarray, limit: float, within_s: float,
               min_r2: float = 0.5, severity: Severity = Severity.WARNING) -> Signal | None:
    """Linear trend over the window projects the series across `limit` within `within_s` seconds."""
    fit = _fit(np.asarray(ts, float), np.asarray(values, float))
    if fit is None:
        return None
    slope, now_value, r2 = fit
    if r2 < min_r2 or slope == 0 or (limit - now_value) / slope <= 0:
        return None
    eta = (limit - now_value) / slope
    if eta > within_s:
        return None
    return Signal(ts=float(ts[-1]), service=service, series=series, kind="trend", severity=severity,
                  score=float(1.0 - eta / within_s / 2), source="rule:will_cross",
                  reason=f"trend ({slope * 3600:.4g}/h, r2 {r2:.2f}) crosses {limit:.4g} in {eta / 60:.0f} min "
                         f"(rule: within {within_s / 60:.0f} min)",
                  window_start=float(ts[0]), window_end=float(ts[-1]),
                  evidence={"eta_s": eta, "slope_per_s": slope, "r2": r2})


# (long window s, short window s, burn-rate factor, severity): the SRE workbook's multiwindow alerts.
BURN_WINDOWS: tuple[tuple[float, float, float, Severity], ...] = (
    (3600, 300, 14.4, Severity.CRITICAL),
    (6 * 3600, 1800, 6.0, Severity.CRITICAL),
    (3 * 86400, 6 * 3600, 1.0, Severity.WARNING),
)


def burn_rate(ts: np.ndarray, good: np.ndarray, total: np.ndarray, objective: float, now: float,
              window_s: float) -> float:
    """Error budget burn rate over [now - window_s, now]: error ratio / (1 - objective)."""
    sel = (ts > now - window_s) & (ts <= now)
    n = float(np.sum(total[sel]))
    if n <= 0:
        return 0.0
    return (1.0 - float(np.sum(good[sel])) / n) / (1.0 - objective)


def slo_burn(service: str, slo: str, ts: np.ndarray, good: np.ndarray, total: np.ndarray, objective: float,
             now: float, windows=BURN_WINDOWS) -> list[Signal]:
    """Multi-window, multi-burn-rate alerts: both the long and the short window must burn faster than the
    factor (the short one makes the alert reset quickly once the problem stops). Works for availability
    (good = non-5xx) and latency SLOs (good = requests under the latency objective)."""
    ts, good, total = (np.asarray(a, float) for a in (ts, good, total))
    out = []
    for long_s, short_s, factor, severity in windows:
        long_b = burn_rate(ts, good, total, objective, now, long_s)
        short_b = burn_rate(ts, good, total, objective, now, short_s)
        if long_b > factor and short_b > factor:
            out.append(Signal(
                ts=now, service=service, series=slo, kind="slo_burn", severity=severity,
                score=min(1.0, long_b / factor / 2), source="rule:slo_burn",
                reason=f"burning error budget at {long_b:.1f}x over {long_s / 3600:.3g} h and {short_b:.1f}x over "
                       f"{short_s / 60:.0f} min (alert above {factor}x; objective {objective:.4%})",
                window_start=now - long_s, window_end=now,
                evidence={"long_burn": long_b, "short_burn": short_b, "factor": factor}))
    return out
