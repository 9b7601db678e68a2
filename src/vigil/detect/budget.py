"""An SLO's error budget over its window, for people to look at: how much is left, how fast it burns
now (the SLO's own burn-rate pairs, as the rules stage judges them), and both over the window, from
the per-minute good and total events the SLI reader gives (docs/rules.md#kind-slo)."""

from __future__ import annotations

from typing import Any

import numpy as np

from vigil.config.rules import SloRuleConfig
from vigil.config.types import format_duration
from vigil.detect.rules import burn_rate

MAX_POINTS = 720  # the curves over the window: a 30-day window in hours


def error_budget(c: SloRuleConfig, ts: np.ndarray, good: np.ndarray, total: np.ndarray, now: float
                 ) -> dict[str, Any]:
    """The budget of one SLO at `now`: `remaining` (1 = untouched, 0 = spent, below 0 = overspent) over
    the events seen in the window, each burn-rate pair's burns, and per step of the window the burn
    rate and the budget remaining until then."""
    objective = c.objective / 100.0
    budget = 1.0 - objective
    start = now - c.window
    inside = (ts > start) & (ts <= now) & np.isfinite(good) & np.isfinite(total)
    ts, good, total = ts[inside], good[inside], total[inside]
    n = float(total.sum())
    bad = max(0.0, n - float(good.sum()))
    ratio = bad / n if n > 0 else None
    step = max(60.0, c.window / MAX_POINTS)
    k = np.ceil((ts - start) / step).astype(np.int64) - 1  # ts in (start, now]: steps 0 .. MAX_POINTS - 1
    uniq, inv = np.unique(k, return_inverse=True)
    n_step = np.bincount(inv, weights=total, minlength=uniq.size)
    bad_step = np.maximum(0.0, n_step - np.bincount(inv, weights=good, minlength=uniq.size))
    with np.errstate(invalid="ignore", divide="ignore"):
        burn = np.where(n_step > 0, bad_step / n_step / budget, np.nan)
        remaining = 1.0 - np.cumsum(bad_step) / np.cumsum(n_step) / budget
    pairs = []
    for b in c.burn_rates:
        long_burn = burn_rate(ts, good, total, objective, now, b.long)
        short_burn = burn_rate(ts, good, total, objective, now, b.short)
        pairs.append({"long": format_duration(b.long), "short": format_duration(b.short), "factor": b.factor,
                      "severity": b.severity, "long_burn": round(long_burn, 4), "short_burn": round(short_burn, 4),
                      "burning": long_burn > b.factor and short_burn > b.factor})
    return {
        "name": c.name, "series": c.title(), "objective_pct": c.objective, "window_s": c.window,
        "budget_ratio": budget, "events": n, "bad_events": bad, "error_ratio": ratio,
        "remaining": None if ratio is None else 1.0 - ratio / budget,
        "data_from": float(ts[0]) if ts.size else None, "step_s": step, "burn_rates": pairs,
        "ts": (start + uniq * step).tolist(), "burn": _clean(burn), "remaining_over_time": _clean(remaining),
    }


def _clean(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), 6) for v in values]
