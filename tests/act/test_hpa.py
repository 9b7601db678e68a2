"""The exact HPA as timelines on a FakeClock, against hand-computed upstream behaviour
(pkg/controller/podautoscaler: replica calculator, stabilizeRecommendationWithBehaviors,
calculateScaleUp/DownLimitWithScalingRules)."""

from __future__ import annotations

from vigil.act.scaling import Observation, ScalePolicy
from vigil.act.scaling.hpa import replicas_for_metric
from vigil.config.scaling import ScalingMetric, ScalingPolicyConfig, ScalingRate, ScalingRules
from vigil.testing import FakeClock


def policy(clock: FakeClock, **kw) -> ScalePolicy:
    base = dict(mode="reactive", min_replicas=1, max_replicas=100, metric=ScalingMetric(target=0.7))
    base.update(kw)
    return ScalePolicy("api", ScalingPolicyConfig(**base), clock)


def step(p: ScalePolicy, clock: FakeClock, current: int, metric: float, ready: int | None = None):
    d = p.decide(Observation(current, current if ready is None else ready, metric))
    if d.result["act"]:
        p.scaled(current, d.result["replicas"])
    clock.set(clock.now() + 15)
    return d


def test_tolerance_band() -> None:
    assert replicas_for_metric(10, 10, 0.75, 0.7, 0.1) == 10  # ratio 1.071: inside the band
    assert replicas_for_metric(10, 10, 0.78, 0.7, 0.1) == 12  # ratio 1.114 -> ceil(11.14)
    assert replicas_for_metric(10, 10, 0.64, 0.7, 0.1) == 10  # ratio 0.914: inside
    assert replicas_for_metric(10, 10, 0.62, 0.7, 0.1) == 9  # ratio 0.886 -> ceil(8.86)
    assert replicas_for_metric(10, 10, 0.62, 0.7, 0.1, tolerance_down=0.2) == 10  # per-direction (1.33)
    # Unready replicas are not in the average: 4 ready of 6 at 1.4 -> ceil(2 x 4) = 8.
    assert replicas_for_metric(4, 6, 1.4, 0.7, 0.1) == 8


def test_scale_down_waits_for_the_stabilization_window() -> None:
    clock = FakeClock(start=1000.0)
    p = policy(clock)
    # Load halves at t=0: raw recommendation 5, but the window holds the initial 10 for 300 s.
    timeline = [step(p, clock, 10, 0.35) for _ in range(20)]  # t = 0 .. 285
    assert all(d.result["replicas"] == 10 for d in timeline)
    assert timeline[0].rule == "ScaleDownStabilized"
    d = step(p, clock, 10, 0.35)  # t = 300: the initial recommendation left the window
    assert d.result["replicas"] == 5 and d.result["act"] and d.rule == "DesiredWithinRange"


def test_scale_down_window_keeps_highest_recent_recommendation() -> None:
    clock = FakeClock(start=0.0)
    p = policy(clock, scale_down=ScalingRules(stabilization_window=60,
                                              policies=[ScalingRate(type="Percent", value=100, period=15)]))
    step(p, clock, 10, 0.7)  # t=0: 10 (initial recommendation also 10)
    step(p, clock, 10, 0.56)  # t=15: raw 8
    step(p, clock, 10, 0.42)  # t=30: raw 6
    d = step(p, clock, 10, 0.28)  # t=45: raw 4; window (t>-15) holds 10 -> 10
    assert d.result["replicas"] == 10
    d = step(p, clock, 10, 0.28)  # t=60: window (t>0) holds 8, 6, 4 -> 8
    assert d.result["replicas"] == 8
    d = step(p, clock, 8, 0.35)  # t=75: raw ceil(0.5 x 8) = 4; window (t>15) holds 6, 4, 4 -> 6
    assert d.result["replicas"] == 6


def test_scale_up_rate_limit_max_of_percent_and_pods() -> None:
    clock = FakeClock(start=0.0)
    p = policy(clock)
    d = step(p, clock, 2, 7.0)  # raw 20; limit max(ceil(2 x 2), 2 + 4) = 6
    assert d.result["replicas"] == 6 and d.rule == "ScaleUpLimit"
    d = step(p, clock, 6, 7.0 * 2 / 6)  # same load: raw 20; the +4 event is 15 s old (not > cutoff)
    assert d.result["replicas"] == 12  # max(12, 10)
    d = step(p, clock, 12, 7.0 * 2 / 12)  # raw 20, limit 24
    assert d.result["replicas"] == 20 and d.rule == "DesiredWithinRange"


def test_scale_up_rate_limit_counts_events_inside_the_period() -> None:
    clock = FakeClock(start=0.0)
    up = ScalingRules(policies=[ScalingRate(type="Pods", value=4, period=60)])
    p = policy(clock, scale_up=up)
    assert step(p, clock, 2, 7.0).result["replicas"] == 6  # 2 + 4
    for _ in range(3):  # t = 15, 30, 45: period start is 6 - 4 = 2 -> limit 6
        d = step(p, clock, 6, 7.0 * 2 / 6)
        assert d.result["replicas"] == 6 and not d.result["act"]
    d = step(p, clock, 6, 7.0 * 2 / 6)  # t = 60: the event left the period -> 10
    assert d.result["replicas"] == 10


def test_select_policy_min_and_disabled() -> None:
    pol = [ScalingRate(type="Percent", value=100, period=15), ScalingRate(type="Pods", value=4, period=15)]
    clock = FakeClock(start=0.0)
    p = policy(clock, scale_up=ScalingRules(select_policy="Min", policies=pol))
    assert step(p, clock, 10, 7.0).result["replicas"] == 14  # min(20, 14)
    p = policy(clock, scale_up=ScalingRules(select_policy="Max", policies=pol))
    assert step(p, clock, 10, 7.0).result["replicas"] == 20  # max(20, 14)
    p = policy(clock, scale_up=ScalingRules(select_policy="Disabled", policies=pol))
    d = step(p, clock, 10, 7.0)
    assert d.result["replicas"] == 10 and not d.result["act"]


def test_scale_down_rate_limit_percent_truncates() -> None:
    clock = FakeClock(start=0.0)
    down = ScalingRules(stabilization_window=0, policies=[ScalingRate(type="Percent", value=50, period=60)])
    p = policy(clock, scale_down=down)
    d = step(p, clock, 9, 0.07)  # raw 1; limit int(9 x 0.5) = 4
    assert d.result["replicas"] == 4 and d.rule == "ScaleDownLimit"
    d = step(p, clock, 4, 0.07 * 9 / 4)  # period start 4 + 5 = 9 -> limit 4: stays
    assert d.result["replicas"] == 4 and not d.result["act"]


def test_min_max_bounds() -> None:
    clock = FakeClock(start=0.0)
    p = policy(clock, min_replicas=3, max_replicas=8)
    d = step(p, clock, 6, 7.0)
    assert d.result["replicas"] == 8 and d.rule == "TooManyReplicas"
    p = policy(clock, min_replicas=3, max_replicas=8,
               scale_down=ScalingRules(stabilization_window=0,
                                       policies=[ScalingRate(type="Percent", value=100, period=15)]))
    d = step(p, clock, 6, 0.01)
    assert d.result["replicas"] == 3 and d.rule == "TooFewReplicas"
    d = step(p, clock, 12, 0.7)  # someone scaled it above max by hand
    assert d.result["replicas"] == 8 and d.rule == "CurrentAboveMax"


def test_up_stabilization_window_takes_the_lowest() -> None:
    clock = FakeClock(start=0.0)
    up = ScalingRules(stabilization_window=30, policies=[ScalingRate(type="Percent", value=100, period=15)])
    p = policy(clock, scale_up=up)
    step(p, clock, 10, 0.7)  # t=0: 10
    d = step(p, clock, 10, 1.4)  # t=15: raw 20, window holds 10 -> 10
    assert d.result["replicas"] == 10 and d.rule == "ScaleUpStabilized"
    d = step(p, clock, 10, 1.4)  # t=30: window (t>0) holds 20, 20 -> 20
    assert d.result["replicas"] == 20
