"""storefront's `scaling:` block in the demo config: its replicas run through vigil's own `process`
actuator and follow the compressed day of traffic.

Every time setting of the policy is written in simulated time and scaled to the compressed day, so
the demo behaves as a real day would: the forecast's season is one demo day, its step a simulated
quarter hour, the scale-down stabilization window half a simulated hour (the 5 minutes default would
be 12 simulated hours at a 10-minute day), and so on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCALING_SERIES = "shop_requests_total:rate"  # requests/s answered by all replicas together
SIM_HOUR = 1.0 / 24  # of a day


@dataclass(frozen=True)
class StorefrontScaling:
    """What vigil is told about storefront's replicas. `target_rps` (requests/s per replica)
    defaults to the peak over `max_replicas - 1`: the busiest hour needs all but one replica."""

    mode: str = "predictive"
    min_replicas: int = 1
    max_replicas: int = 6
    target_rps: float | None = None
    sync_period_s: float = 5.0
    startup_delay_s: float = 2.0  # a replica answers about 1 to 2 s after it is asked for
    ready_timeout_s: float = 30.0
    stop_timeout_s: float = 5.0

    def down_window(self, day_seconds: float) -> float:
        """Half a simulated hour, and at least 4 control periods: a rate read over a few seconds
        is noisy, and the window is what keeps one low reading from costing a scale-down."""
        return max(day_seconds * SIM_HOUR / 2, 4 * self.sync_period_s)

    def target(self, peak_rps: float) -> float:
        if self.target_rps is not None:
            return self.target_rps
        return round(peak_rps / max(1, self.max_replicas - 1), 3)

    def policy(self, *, day_seconds: float, peak_rps: float, metric_lag_s: float,
               actuator: dict[str, Any]) -> dict[str, Any]:
        """The config data of the policy (validated with the rest of the demo config)."""
        p = self.sync_period_s
        rate_period = f"{max(1.0, p):g}s"  # the HPA's 15 s is one control period; so here
        return {
            "mode": self.mode,
            "min_replicas": self.min_replicas,
            "max_replicas": self.max_replicas,
            "metric": {"kind": "requests_per_replica", "series": SCALING_SERIES,
                       "target": self.target(peak_rps)},
            "sync_period": f"{p:g}s",
            "scale_up": {"stabilization_window": "0s", "policies": [
                {"type": "Percent", "value": 100, "period": rate_period},
                {"type": "Pods", "value": 4, "period": rate_period}]},
            "scale_down": {"stabilization_window": _dur(self.down_window(day_seconds)), "policies": [
                {"type": "Percent", "value": 100, "period": rate_period}]},
            "predictive": {
                "season": _dur(day_seconds),
                "step": _dur(max(p, day_seconds * SIM_HOUR / 4)),  # a simulated quarter hour
                "history": _dur(3 * day_seconds),
                "refit_every": _dur(max(p, day_seconds * SIM_HOUR)),
                # the floor calibrates on at least 20 errors: a short day still needs that many periods
                "backtest_window": _dur(max(day_seconds, 30 * p)),
                "interval_window": _dur(max(day_seconds, 30 * p)),
                "min_backtest": _dur(3 * day_seconds * SIM_HOUR),
                "burst_hold": _dur(day_seconds * SIM_HOUR),  # a simulated hour, as the 1 h default
                "rough_down_window": _dur(self.down_window(day_seconds)),
                "startup_delay": _dur(self.startup_delay_s),
                "metric_lag": _dur(metric_lag_s),
            },
            "actuator": actuator,
        }


def _dur(seconds: float) -> str:
    return f"{round(seconds, 3):g}s"
