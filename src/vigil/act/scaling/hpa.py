"""The Kubernetes HorizontalPodAutoscaler's replica calculation, re-implemented exactly.

Follows pkg/controller/podautoscaler (replica_calculator.go and horizontal.go, current upstream):
  1. usage ratio = metric / target; inside the tolerance band keep the current count, otherwise
     desired = ceil(ratio x ready replicas)                                   (replica calculator)
  2. current above max / below min -> max / min, then
     normalizeDesiredReplicasWithBehaviors:
     a. stabilizeRecommendationWithBehaviors: the recommendation is clamped between the minimum of
        the recommendations inside the scale-up window and the maximum of those inside the scale-down
        window (the raw recommendation is recorded, reusing one expired slot);
     b. convertDesiredReplicasWithBehaviorRate: calculateScaleUp/DownLimitWithScalingRules over the
        scale events inside each policy's period, selectPolicy Max / Min / Disabled, then min/max.
  3. a new HPA starts with one recommendation equal to the current count (maybeInitScaleDown-
     StabilizationWindow), so it does not scale down in its first window.

Not modelled (the caller passes one already-averaged metric per ready replica): the missing-pods and
unready-pods adjustments of the replica calculator (assume 0% / 100% for pods without metrics, the CPU
initialisation period), several metrics at once (upstream takes the max over metrics), the
scale-to-zero feature gate, and status conditions. Recorded as plain Python state, not in the API.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from vigil.config.scaling import ScalingRules

INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)


def replicas_for_metric(ready: int, current: int, metric: float, target: float, tolerance: float,
                        tolerance_down: float | None = None, units: int = 1000) -> int:
    """The replica calculator for an average metric per ready replica: inside the tolerance band the
    current count stands (no flapping on noise). Separate up/down tolerances as in Kubernetes 1.33
    (behavior.scaleUp/scaleDown.tolerance).

    Upstream works in integers: utilisation in whole percent (units=100), values in milli-units
    (units=1000), the average truncated; so 0.56 / 0.7 is exactly 0.8 here too."""
    ratio = int(metric * units + 1e-9) / max(1, int(round(target * units)))
    down = tolerance if tolerance_down is None else tolerance_down
    if 1.0 - down <= ratio <= 1.0 + tolerance:
        return current
    return int(math.ceil(ratio * ready))


@dataclass(slots=True)
class Normalized:
    replicas: int
    stabilized: int
    reason: str  # the rule that won: DesiredWithinRange, ScaleUpStabilized, ScaleUpLimit, ...


@dataclass
class HpaState:
    """The controller's per-HPA memory: recommendations and scale events with timestamps."""

    recommendations: list[list[float]] = field(default_factory=list)  # [ts, replicas]
    scale_up_events: list[list[float]] = field(default_factory=list)  # [ts, change, outdated]
    scale_down_events: list[list[float]] = field(default_factory=list)


class HorizontalAutoscaler:
    """One HPA: min/max, behavior rules; state advanced only by `normalize` and `record_scale`."""

    def __init__(self, min_replicas: int, max_replicas: int, scale_up: ScalingRules,
                 scale_down: ScalingRules, longest_down_window: float = 0.0) -> None:
        self.min_replicas = min_replicas
        self.max_replicas = max_replicas
        self.up = scale_up
        self.down = scale_down
        self.state = HpaState()
        self._initialised = False
        self._longest_up = max(p.period for p in scale_up.policies)
        self._longest_down = max(p.period for p in scale_down.policies)
        # Recommendations are kept for the longest scale-down window a caller may pass to `normalize`.
        self._keep_down = max(scale_down.stabilization_window, longest_down_window)

    # ------------------------------------------------------------------ reconcile
    def normalize(self, now: float, current: int, desired: int,
                  down_window: float | None = None) -> Normalized:
        """reconcileAutoscaler's clamp + normalizeDesiredReplicasWithBehaviors. `down_window` replaces the
        scale-down stabilization window for this call (up to `longest_down_window`)."""
        if current > self.max_replicas:
            return Normalized(self.max_replicas, self.max_replicas, "CurrentAboveMax")
        if current < self.min_replicas:
            return Normalized(self.min_replicas, self.min_replicas, "CurrentBelowMin")
        if not self._initialised:  # maybeInitScaleDownStabilizationWindow
            self._initialised = True
            if self.down.stabilization_window > 0 and not self.state.recommendations:
                self.state.recommendations.append([now, float(current)])
        window = self.down.stabilization_window if down_window is None else min(down_window, self._keep_down)
        stabilized, reason = self._stabilize(now, current, desired, window)
        replicas, limit_reason = self._rate_limit(now, current, stabilized)
        if replicas != stabilized:
            reason = limit_reason
        elif stabilized == desired:
            reason = limit_reason
        return Normalized(replicas, stabilized, reason)

    def _stabilize(self, now: float, current: int, desired: int, down_window: float) -> tuple[int, str]:
        up_cut = now - self.up.stabilization_window
        down_cut = now - down_window
        keep_cut = now - self._keep_down
        up_rec = desired
        down_rec = desired
        old_index = -1
        recs = self.state.recommendations
        for i, (ts, rec) in enumerate(recs):  # plain comparisons: this runs every period per service
            if ts > up_cut and rec < up_rec:
                up_rec = int(rec)
            if ts > down_cut and rec > down_rec:
                down_rec = int(rec)
            if ts < up_cut and ts < keep_cut:
                old_index = i
        recommendation = current
        reason = "DesiredWithinRange"
        if recommendation < up_rec:
            recommendation = up_rec
        if recommendation > down_rec:
            recommendation = down_rec
        if old_index >= 0:
            recs[old_index] = [now, float(desired)]
        else:
            recs.append([now, float(desired)])
        if recommendation != desired:
            reason = "ScaleUpStabilized" if desired > recommendation else "ScaleDownStabilized"
        return recommendation, reason

    def _rate_limit(self, now: float, current: int, desired: int) -> tuple[int, str]:
        if desired > current:
            limit = self._scale_up_limit(now, current)
            if limit < current:  # wait until old events leave their periods
                limit = current
            if self.max_replicas > limit:
                allowed, reason = limit, "ScaleUpLimit"
            else:
                allowed, reason = self.max_replicas, "TooManyReplicas"
            if desired > allowed:
                return allowed, reason
        elif desired < current:
            limit = self._scale_down_limit(now, current)
            if limit > current:
                limit = current
            if self.min_replicas < limit:
                allowed, reason = limit, "ScaleDownLimit"
            else:
                allowed, reason = self.min_replicas, "TooFewReplicas"
            if desired < allowed:
                return allowed, reason
        return desired, "DesiredWithinRange"

    def _scale_up_limit(self, now: float, current: int) -> int:
        rules = self.up
        if rules.select_policy == "Disabled":
            return current
        pick_min = rules.select_policy == "Min"
        result = INT32_MAX if pick_min else INT32_MIN
        for p in rules.policies:
            added = _change_in_period(now, p.period, self.state.scale_up_events)
            deleted = _change_in_period(now, p.period, self.state.scale_down_events)
            start = current - added + deleted
            if p.type == "Pods":
                proposed = start + p.value
            else:  # rounded up, else a small count could never grow
                proposed = int(math.ceil(start * (1 + p.value / 100)))
            result = min(result, proposed) if pick_min else max(result, proposed)
        return result

    def _scale_down_limit(self, now: float, current: int) -> int:
        rules = self.down
        if rules.select_policy == "Disabled":
            return current
        pick_min = rules.select_policy == "Min"
        result = INT32_MIN if pick_min else INT32_MAX
        for p in rules.policies:
            added = _change_in_period(now, p.period, self.state.scale_up_events)
            deleted = _change_in_period(now, p.period, self.state.scale_down_events)
            start = current - added + deleted
            if p.type == "Pods":
                proposed = start - p.value
            else:  # int32() truncates, as upstream
                proposed = int(start * (1 - p.value / 100))
            result = max(result, proposed) if pick_min else min(result, proposed)
        return result

    # ------------------------------------------------------------------ after a rescale
    def record_scale(self, now: float, previous: int, new: int) -> None:
        """storeScaleEvent: remember the change, reusing an outdated slot."""
        if new == previous:
            return
        if new > previous:
            events, longest, change = self.state.scale_up_events, self._longest_up, new - previous
        else:
            events, longest, change = self.state.scale_down_events, self._longest_down, previous - new
        cutoff = now - longest
        for ev in events:  # markScaleEventsOutdated
            if ev[0] < cutoff:
                ev[2] = 1.0
        for i, ev in enumerate(events):
            if ev[2]:
                events[i] = [now, float(change), 0.0]
                return
        events.append([now, float(change), 0.0])


def _change_in_period(now: float, period: float, events: list[list[float]]) -> int:
    """getReplicasChangePerPeriod: events strictly after now - period."""
    cutoff = now - period
    total = 0
    for ts, change, _ in events:
        if ts > cutoff:
            total += int(change)
    return total
