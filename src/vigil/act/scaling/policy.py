"""ScalePolicy: one service's scaling decision per control period, as a recorded Decision.

    reactive    the exact HPA (hpa.py)
    predictive  the HPA, with the forecast's upper bound for the time new replicas would be ready as a
                floor under its raw recommendation, while the floor's rolling backtest beats seasonal
                naive; otherwise reactive, and the decision says why. On rough demand (floor.py)
                scale-downs wait `rough_down_window`, in both cases
    shadow      decides like `shadow_of` and records it, never acts

The floor goes in before stabilization and rate limits, so the HPA behaviour rules bound it as they
bound any recommendation. A budget cap, if set, is the last word.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vigil.act.scaling.floor import ForecastFloor
from vigil.act.scaling.hpa import HorizontalAutoscaler, replicas_for_metric
from vigil.clock import Clock
from vigil.config.scaling import ScalingPolicyConfig
from vigil.model import Decision


@dataclass(slots=True)
class Observation:
    """What the policy reads each period: the scale target's counts and the metric per ready replica."""

    current_replicas: int  # spec.replicas
    ready_replicas: int
    metric: float  # average over ready replicas, in the unit of the target


class ScalePolicy:
    def __init__(self, service: str, config: ScalingPolicyConfig, clock: Clock,
                 forecaster: Any | None = None,
                 record: Callable[[Decision], None] | None = None, calibrate_target: bool = False) -> None:
        self.service = service
        self.config = config
        self.clock = clock
        uses_floor = config.mode == "predictive" or (
            config.mode == "shadow" and config.shadow_of == "predictive")
        self.hpa = HorizontalAutoscaler(config.min_replicas, config.max_replicas, config.scale_up,
                                        config.scale_down,
                                        config.predictive.rough_down_window if uses_floor else 0.0)
        self.floor = ForecastFloor(config.predictive, config.sync_period, forecaster) if uses_floor else None
        self._record = record
        self._budget_max = (int(config.budget_per_hour // config.cost_per_replica_hour)
                            if config.budget_per_hour is not None else None)
        # While the forecast is trusted the reactive part runs at the predictive target (the floor sees
        # rises coming); otherwise everything is the plain HPA at the metric target.
        self.trusted_target = config.predictive.target or config.metric.target
        up_tol = config.scale_up.tolerance if config.scale_up.tolerance is not None else config.tolerance
        self.floor_target = config.predictive.floor_target or self.trusted_target * (1 + up_tol)
        # Self-calibrated headroom (opt-in, see `calibrated_targets`): the trusted target follows the
        # width of this service's own forecast bound over the start-up horizon.
        self.calibrate_target = calibrate_target or config.calibrated_headroom
        self.saturation = config.metric.saturation or 1.0

    def decide(self, obs: Observation) -> Decision:
        """Decide the replica count for now. When `result["act"]` is true the caller scales to
        `result["replicas"]` and, once that succeeded, calls `scaled()`."""
        cfg = self.config
        now = self.clock.now()
        current, ready = obs.current_replicas, obs.ready_replicas
        est = None
        if self.floor is not None:
            self.floor.observe(now, obs.metric * ready)
            est = self.floor.estimate(now)
        target = self.trusted_target if est is not None and est.allowed else cfg.metric.target
        tol_up = cfg.scale_up.tolerance if cfg.scale_up.tolerance is not None else cfg.tolerance
        floor_target = self.floor_target
        if self.calibrate_target and est is not None and est.allowed:
            target, floor_target = calibrated_targets(est.mean, est.bound, tol_up, cfg.metric.target,
                                                      self.saturation)
        tol_down = cfg.scale_down.tolerance if cfg.scale_down.tolerance is not None else cfg.tolerance
        units = 100 if cfg.metric.kind == "utilization" else 1000
        raw = replicas_for_metric(ready, current, obs.metric, target, tol_up, tol_down, units)
        if current == 0:
            raw = 0  # upstream: scaling is disabled while the target is scaled to zero
        inputs: dict[str, Any] = {
            "mode": cfg.mode, "current_replicas": current, "ready_replicas": ready, "metric": obs.metric,
            "metric_kind": cfg.metric.kind, "target": target, "tolerance": [tol_up, tol_down],
            "reactive_replicas": raw,
        }
        desired = raw
        floor_rule = None
        down_window = None  # the configured scale-down window, unless demand is rough
        if est is not None:
            # Replicas the predicted upper bound needs at floor_target per replica; when that breaches
            # the current count, scale so the upper bound fits at floor_target and the expected demand
            # at the target (room for the next rise, rather than one replica at a time).
            floor_replicas = int(math.ceil(est.upper / floor_target - 1e-9)) if est.upper > 0 else 0
            expected = int(math.ceil(est.mean / target - 1e-9))
            floor_goal = max(floor_replicas, expected) if est.upper > 0 else 0
            inputs["forecast"] = {
                "model": est.model, "horizon_s": est.horizon, "demand_now": est.demand_now,
                "mean": est.mean, f"upper_{cfg.predictive.level}": est.upper, "mase": est.mase,
                "floor_replicas": floor_replicas, "floor_target": floor_target, "floor_goal": floor_goal,
                "roughness": est.roughness, "burst_hold": est.burst,
            }
            inputs["predictive"] = est.reason
            if est.rough:
                # Rough demand: bursts come back, so the floor holds headroom for the last one (in
                # est.upper) and scale-downs wait longer, also while the reactive fallback decides (the
                # roughness does not depend on the forecast's backtest).
                down_window = max(cfg.scale_down.stabilization_window, cfg.predictive.rough_down_window)
                inputs["rough_demand"] = (f"roughness {est.roughness:.2f} >= {cfg.predictive.rough_above:g}: "
                                          f"burst headroom {est.burst:.4g}, scale-down window {down_window:g}s")
            if est.allowed and floor_replicas > current and floor_goal > desired and current > 0:
                desired, floor_rule = floor_goal, "ForecastFloor"
            elif est.allowed and floor_replicas > desired and current > 0:
                # A floor also under scale-downs: never below what the upper bound needs, so a dip
                # the forecast sees passing does not cost a scale-down and a scale-up.
                desired, floor_rule = floor_replicas, "ForecastFloor"
            elif not est.allowed:
                floor_rule = "PredictiveFallbackReactive"
        if current == 0:
            replicas, stabilized, rule = 0, 0, "ScalingDisabledAtZero"
        else:
            norm = self.hpa.normalize(now, current, desired, down_window)
            replicas, stabilized, rule = norm.replicas, norm.stabilized, norm.reason
            if floor_rule == "ForecastFloor" and rule == "DesiredWithinRange":
                rule = "ForecastFloor"
            elif floor_rule == "PredictiveFallbackReactive" and rule == "DesiredWithinRange":
                rule = "PredictiveFallbackReactive"
        if self._budget_max is not None and replicas > self._budget_max:
            replicas, rule = self._budget_max, "BudgetCap"
        act = replicas != current and cfg.mode != "shadow" and not cfg.dry_run
        result: dict[str, Any] = {
            "replicas": replicas, "act": act, "desired": desired, "stabilized": stabilized,
            "cost_per_hour": replicas * cfg.cost_per_replica_hour,
        }
        if cfg.mode == "shadow" and replicas != current:
            result["shadow"] = f"would scale {current} -> {replicas}; shadow mode never acts"
        decision = Decision(ts=now, kind="scale", subject=self.service, rule=rule, inputs=inputs,
                            result=result)
        if self._record is not None:
            self._record(decision)
        return decision

    def scaled(self, previous: int, new: int) -> None:
        """The scale target now runs `new` replicas (storeScaleEvent, after a successful rescale)."""
        self.hpa.record_scale(self.clock.now(), previous, new)


def calibrated_targets(mean: float, bound: float, tolerance: float, metric_target: float,
                       saturation: float = 1.0) -> tuple[float, float]:
    """(trusted target, floor target) from the service's own forecast bound, for a metric that saturates a
    replica at `saturation` (1.0 for utilisation). The reactive part may run at the load from which, once
    its tolerance is crossed, the bound's relative width r over the start-up horizon would no longer fit:
    target = saturation / ((1 + tolerance)(1 + r)), never below the metric target (the plain HPA) nor above
    saturation / (1 + tolerance) (its tolerance band would reach saturation). The bound itself may fill
    capacity."""
    ceiling = saturation / (1.0 + tolerance)
    r = max(0.0, bound - mean) / mean if mean > 0 else 0.0
    return min(ceiling, max(metric_target, ceiling / (1.0 + r))), saturation
