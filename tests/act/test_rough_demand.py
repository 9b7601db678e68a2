"""Rough demand: roughness separates smooth drift from period-to-period jumps; the burst hold keeps
headroom after a surprise and forgets it after its window; the policy holds scale-downs longer on rough
demand and keeps the configured window on smooth demand."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.act.scaling import ScalePolicy
from vigil.act.scaling.floor import BurstHold, roughness
from vigil.act.scaling.hpa import HorizontalAutoscaler
from vigil.config.scaling import PredictiveSettings, ScalingMetric, ScalingPolicyConfig
from vigil.testing import FakeClock

from .test_policy import SEASON, replay


def test_roughness_is_0_for_drift_half_for_a_random_walk_and_1_for_noise() -> None:
    rng = np.random.default_rng(4)
    t = np.arange(20_000)
    drift = 100 + 20 * np.sin(t / 1500)  # moves steadily within any horizon
    walk = 100 + np.cumsum(rng.normal(0, 1, t.size))
    noise = 100 + rng.normal(0, 5, t.size)  # jumps about every period
    for h in (6, 10):  # the same verdict whatever the horizon
        assert roughness(drift, h) == pytest.approx(0.0, abs=0.02)
        assert roughness(walk, h) == pytest.approx(0.5, abs=0.08)
        assert roughness(noise, h) > 0.85
    assert roughness(np.full(2000, 3.0), 6) is None  # no movement: nothing to judge
    assert roughness(noise[:30], 6) is None  # too short


def test_burst_hold_keeps_the_largest_surprise_for_its_window() -> None:
    hold = BurstHold(window=3600, max_sustain=3)
    hold.add(0, 5.0, sustain=1)
    hold.add(15, 2.0, sustain=1)
    assert hold.value(30) == 5.0
    assert hold.value(3599) == 5.0
    assert hold.value(3610) == 2.0  # the burst at t=0 left the window; the one at t=15 has not
    assert hold.value(10_000) == 0.0
    hold.add(20_000, -3.0, sustain=1)
    assert hold.value(20_000) == 0.0  # over-forecasts hold nothing


def test_burst_hold_on_noisy_demand_counts_only_sustained_surprises() -> None:
    hold = BurstHold(window=3600, max_sustain=3)
    for k, s in enumerate([0.0, 9.0, 0.0, 0.0]):  # one lone outlier: noise
        hold.add(15.0 * k, s, sustain=3)
    assert hold.value(60) == 0.0
    for k, s in enumerate([6.0, 8.0, 7.0], start=10):  # three periods high: a burst, held at its least
        hold.add(15.0 * k, s, sustain=3)
    assert hold.value(200) == 6.0


def test_hpa_down_window_override_reaches_back_only_as_far_as_it_keeps() -> None:
    cfg = ScalingPolicyConfig(max_replicas=50)
    hpa = HorizontalAutoscaler(1, 50, cfg.scale_up, cfg.scale_down, longest_down_window=900)
    assert hpa.normalize(0, 10, 20).replicas == 20
    # 600 s later the high recommendation is outside the 300 s window but inside 900 s.
    assert hpa.normalize(600, 20, 8).replicas == 8
    hpa2 = HorizontalAutoscaler(1, 50, cfg.scale_up, cfg.scale_down, longest_down_window=900)
    hpa2.normalize(0, 10, 20)
    assert hpa2.normalize(600, 20, 8, down_window=900).replicas == 20
    assert hpa2.normalize(1000, 20, 8, down_window=5000).replicas == 8  # capped at 900 s kept


def policy_cfg(**predictive) -> ScalingPolicyConfig:
    # max_mase 5: the floor is trusted on pure noise (seasonal naive is as good there); the gate is
    # tested in test_policy.py.
    settings = dict(forecaster="none", season=SEASON, history=2 * SEASON, backtest_window=SEASON,
                    min_backtest=600, target=0.85, level=95, max_mase=5.0)
    settings.update(predictive)
    return ScalingPolicyConfig(mode="predictive", min_replicas=1, max_replicas=200,
                               metric=ScalingMetric(kind="requests_per_replica", target=0.7),
                               predictive=PredictiveSettings(**settings))


def rough_demand(n: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = 8.0 + 0.5 * np.sin(np.arange(n) / 400)
    return np.maximum(1.0, base * (1 + rng.normal(0, 0.08, n)))


def test_rough_demand_holds_bursts_and_scale_downs() -> None:
    clock = FakeClock()
    p = ScalePolicy("api", policy_cfg(), clock)
    n = int(1.5 * SEASON / 15)
    demand = rough_demand(n)
    demand[-100:-97] *= 2.5  # a burst lasting three periods, 25 minutes before the end
    decisions = replay(p, clock, demand)
    last = decisions[-1]
    fc = last.inputs["forecast"]
    assert fc["roughness"] > 0.4  # noise-dominated: bursts must last 3 periods
    assert "roughness" in last.inputs["rough_demand"] and "900s" in last.inputs["rough_demand"]
    assert fc["burst_hold"] > 5  # still held 25 minutes later (past the 15-minute down window)
    assert fc[f"upper_{95}"] >= fc["mean"] + fc["burst_hold"] - 1e-9
    # Without the hold (burst_hold 0) the same demand ends on fewer replicas; it is still rough.
    clock2 = FakeClock()
    p2 = ScalePolicy("api", policy_cfg(burst_hold=0), clock2)
    plain = replay(p2, clock2, demand)[-1]
    assert plain.inputs["forecast"]["burst_hold"] == 0.0 and "900s" in plain.inputs["rough_demand"]
    assert last.result["replicas"] > plain.result["replicas"]
    # With rough_above out of reach (roughness is at most 1) the demand is treated as smooth: no hold,
    # the configured window.
    clock3 = FakeClock()
    smooth = replay(ScalePolicy("api", policy_cfg(rough_above=2), clock3), clock3, demand)[-1]
    assert "rough_demand" not in smooth.inputs and smooth.inputs["forecast"]["burst_hold"] == 0.0


def test_smooth_demand_keeps_the_configured_window() -> None:
    clock = FakeClock()
    p = ScalePolicy("api", policy_cfg(), clock)
    n = int(1.5 * SEASON / 15)
    demand = 8.0 + 3 * np.sin(np.arange(n) / 200)
    last = replay(p, clock, demand)[-1]
    assert last.inputs["forecast"]["roughness"] < 0.125
    assert "rough_demand" not in last.inputs and last.inputs["forecast"]["burst_hold"] == 0.0
