"""Predictive floor and its fallback, shadow mode, budget cap, decisions recorded with their inputs;
config schema."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest
from pydantic import ValidationError

from vigil.act.scaling import Observation, ScalePolicy
from vigil.config import parse_config
from vigil.config.scaling import PredictiveSettings, ScalingMetric, ScalingPolicyConfig
from vigil.model import Decision
from vigil.testing import FakeClock

SEASON = 3600.0  # a short season keeps the walk-forward backtest quick


def cfg(mode: str = "predictive", **kw) -> ScalingPolicyConfig:
    base = dict(mode=mode, min_replicas=1, max_replicas=200,
                metric=ScalingMetric(kind="requests_per_replica", target=0.7),
                predictive=PredictiveSettings(forecaster="none", season=SEASON, history=2 * SEASON,
                                              backtest_window=SEASON, min_backtest=600, target=0.85,
                                              level=95))
    base.update(kw)
    return ScalingPolicyConfig(**base)


def replay(policy: ScalePolicy, clock: FakeClock, demand: np.ndarray, start: int = 10) -> list[Decision]:
    """A tiny simulated target: replicas are ready at once; the metric is demand per replica."""
    current = start
    out = []
    for d in demand:
        dec = policy.decide(Observation(current, current, float(d) / current))
        if dec.result["act"]:
            policy.scaled(current, dec.result["replicas"])
            current = dec.result["replicas"]
        out.append(dec)
        clock.set(clock.now() + 15)
    return out


def random_walk(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.maximum(2.0, 7.0 + np.cumsum(rng.normal(0, 0.05, n)))


def test_predictive_floor_acts_once_its_backtest_beats_seasonal_naive() -> None:
    clock = FakeClock()
    seen: list[Decision] = []
    p = ScalePolicy("api", cfg(), clock, record=seen.append)
    n = int(1.5 * SEASON / 15)
    demand = random_walk(n)
    demand[-40:] = demand[-41] + np.linspace(0, 6, 40)  # a steep ramp at the end
    decisions = replay(p, clock, demand)
    assert seen == decisions  # every decision is recorded
    first = decisions[0]
    assert first.rule in ("PredictiveFallbackReactive", "DesiredWithinRange") or "Stabilized" in first.rule
    assert "no backtest yet" in first.inputs["predictive"]
    late = decisions[-1]
    f = late.inputs["forecast"]
    assert f["mase"] is not None and f["mase"] < 1 and "MASE" in late.inputs["predictive"]
    assert {"model", "horizon_s", "mean", "upper_95", "floor_replicas"} <= set(f)
    assert f["horizon_s"] == 15 + 60 + 15
    assert any(d.rule == "ForecastFloor" for d in decisions[-40:])
    # On the ramp the floor keeps capacity ahead of demand: replicas cover what is coming.
    floor_dec = [d for d in decisions[-40:] if d.rule == "ForecastFloor"][-1]
    assert floor_dec.result["replicas"] >= math.ceil(f["upper_95"] / 0.85) - 1


def test_fallback_to_reactive_when_seasonal_naive_is_better() -> None:
    """Demand that repeats exactly each season: seasonal naive is perfect, so MASE >= 1 and the
    policy is exactly the HPA, and says so."""
    n = int(2.5 * SEASON / 15)
    t = np.arange(n) * 15.0
    demand = 7 + 3 * np.sin(2 * np.pi * t / SEASON) + 2 * (np.sin(2 * np.pi * t / 300) > 0.9)
    c1, c2 = FakeClock(), FakeClock()
    pred = replay(ScalePolicy("api", cfg(), c1), c1, demand)
    react = replay(ScalePolicy("api", cfg(mode="reactive"), c2), c2, demand)
    late = pred[-1]
    assert late.inputs["forecast"]["mase"] >= 1
    assert "does not beat seasonal naive" in late.inputs["predictive"]
    assert [d.result["replicas"] for d in pred] == [d.result["replicas"] for d in react]
    assert all(d.inputs["target"] == 0.7 for d in pred[-100:])


def test_shadow_decides_and_records_but_never_acts() -> None:
    clock = FakeClock()
    p = ScalePolicy("api", cfg(mode="shadow", shadow_of="reactive"), clock)
    d = p.decide(Observation(10, 10, 1.4))
    assert d.result["replicas"] == 20 and d.result["act"] is False
    assert "shadow mode never acts" in d.result["shadow"]
    decisions = replay(ScalePolicy("api", cfg(mode="shadow"), clock), clock, random_walk(400) * 3)
    assert not any(x.result["act"] for x in decisions)


def test_dry_run_never_acts() -> None:
    p = ScalePolicy("api", cfg(mode="reactive", dry_run=True), FakeClock())
    d = p.decide(Observation(10, 10, 1.4))
    assert d.result["replicas"] == 20 and not d.result["act"]


def test_budget_cap() -> None:
    p = ScalePolicy("api", cfg(mode="reactive", cost_per_replica_hour=2.0, budget_per_hour=13.0),
                    FakeClock())
    d = p.decide(Observation(4, 4, 7.0))  # wants 40 (rate limit 8); budget pays for 6
    assert d.result["replicas"] == 6 and d.rule == "BudgetCap" and d.result["cost_per_hour"] == 12.0
    with pytest.raises(ValidationError):
        cfg(mode="reactive", cost_per_replica_hour=2.0, budget_per_hour=1.0)  # not even min_replicas


def test_decision_inputs() -> None:
    d = ScalePolicy("api", cfg(mode="reactive"), FakeClock(start=5000.0)).decide(Observation(10, 8, 0.9))
    assert d.kind == "scale" and d.subject == "api" and d.ts == 5000.0
    assert d.inputs["current_replicas"] == 10 and d.inputs["ready_replicas"] == 8
    assert d.inputs["metric"] == 0.9 and d.inputs["target"] == 0.7 and d.inputs["reactive_replicas"] == 11
    assert d.result["replicas"] == 11 and d.result["act"]


def test_config_in_service_schema() -> None:
    text = """
services:
  - name: api
    scaling:
      mode: predictive
      max_replicas: 20
      metric: {kind: utilization, target: 0.6}
      scale_down:
        stabilization_window: 5m
        select_policy: Min
        policies: [{type: Pods, value: 2, period: 1m}]
      predictive: {startup_delay: 90s, level: 90}
      cost_per_replica_hour: 0.05
      actuator: {kind: kubernetes, name: api, namespace: shop}
"""
    s = parse_config(text).service("api").scaling
    assert s is not None and s.scale_down.stabilization_window == 300
    assert s.scale_down.policies[0].period == 60
    assert s.scale_up.policies[0].type == "Percent" and s.scale_up.stabilization_window == 0
    assert s.actuator is not None and s.actuator.kind == "kubernetes"
    with pytest.raises(ValidationError):
        ScalingPolicyConfig(max_replicas=2, min_replicas=3)
    with pytest.raises(ValidationError):
        ScalingPolicyConfig(max_replicas=2, surprise=1)  # type: ignore[call-arg]


async def test_controller_scales_through_the_actuator_and_verifies() -> None:
    from vigil.act.actuators.memory import MemoryActuator
    from vigil.act.scaling.controller import ScaleController

    clock = FakeClock()
    act = MemoryActuator(replicas=4, ready_after=2)
    load = {"total": 4 * 0.7}

    async def metric() -> float:
        return load["total"] / max(1, act.ready)

    ctl = ScaleController(ScalePolicy("api", cfg(mode="reactive"), clock), act, clock, metric, replicas=4)
    d = await ctl.step()
    assert not d.result["act"]
    load["total"] = 8 * 0.7
    task = asyncio.create_task(ctl.step())
    await clock.advance(5)
    d = await task
    assert d.result["replicas"] == 8 and d.result["outcome"]["status"] == "succeeded"
    assert act.calls == [8] and ctl.replicas == 8
    shadow = ScaleController(ScalePolicy("api", cfg(mode="shadow"), clock), act, clock, metric, replicas=8)
    load["total"] = 20 * 0.7
    d = await shadow.step()
    assert not d.result["act"] and act.calls == [8]
