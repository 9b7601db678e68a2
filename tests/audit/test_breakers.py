"""Circuit breakers around the actuators on a fake clock, with the defaults the issue names: open at
50% failures over a minute (at least 5 calls), open for 60 s, 3 trial calls half-open; a refusal
(the platform answered "no") counts as the endpoint being up; state in /metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from vigil.act.actuators.base import ActuationError, execute_scale
from vigil.act.actuators.guarded import BreakerActuator
from vigil.app import build_app
from vigil.breaker import BreakerMetrics, BreakerPolicy, Breakers
from vigil.config import parse_config
from vigil.testing import FakeClock, MemoryActuator

T0 = 1_700_000_000.0


def down(n: int) -> list[ActuationError]:
    return [ActuationError("platform answered 503", retryable=True) for _ in range(n)]


def test_defaults_are_the_issues() -> None:
    assert BreakerPolicy() == BreakerPolicy(failure_ratio=0.5, window=60.0, min_calls=5, open_for=60.0,
                                            trial_calls=3)


async def test_an_actuator_that_keeps_failing_is_left_alone_then_tried_again() -> None:
    clock = FakeClock(T0)
    inner = MemoryActuator(service="api", replicas=2, failures=down(3))
    breakers = Breakers()
    act = BreakerActuator(inner, breakers, "actuator:api", clock)
    outcomes = []
    for target in (3, 3, 3, 3, 4):  # three failures, then two successes: 3 of 5 failed
        try:
            await act.scale(target)
            outcomes.append("ok")
        except ActuationError as exc:
            outcomes.append("retry" if exc.retryable else "stop")
        await clock.advance(5)
    assert outcomes == ["retry", "retry", "retry", "ok", "ok"]
    [snap] = breakers.snapshot(clock.now())
    assert snap["state"] == "open" and snap["endpoint"] == "actuator:api" and snap["opened_at"] == T0 + 20
    inner.failures = down(1)  # would fail: but the breaker does not call it at all
    with pytest.raises(ActuationError, match="circuit breaker of actuator:api is open") as exc:
        await act.scale(5)
    assert exc.value.retryable is False and inner.calls == [3, 4] and len(inner.failures) == 1
    outcome = await execute_scale(act, 5, clock)  # central retry stops at once: no hammering
    assert outcome.status == "failed" and outcome.attempts == 1 and "open" in outcome.detail
    await clock.advance(T0 + 79 - clock.now())
    assert breakers.get("actuator:api").state(clock.now()).value == "open"
    await clock.advance(1)  # 60 s after it opened
    inner.failures = []
    for target in (5, 6, 7):  # three trials half-open, all fine: closed again
        assert breakers.get("actuator:api").state(clock.now()).value == "half_open"
        await act.scale(target)
    assert breakers.get("actuator:api").state(clock.now()).value == "closed"
    assert inner.calls == [3, 4, 5, 6, 7]


async def test_a_failed_trial_opens_it_again_for_another_minute() -> None:
    clock = FakeClock(T0)
    inner = MemoryActuator(service="api", replicas=2, failures=down(5))
    act = BreakerActuator(inner, Breakers(), "actuator:api", clock)
    for _ in range(5):
        with pytest.raises(ActuationError):
            await act.scale(3)
    await clock.advance(60)
    inner.failures = down(1)
    with pytest.raises(ActuationError, match="503"):
        await act.scale(3)  # the trial reached the platform and failed
    with pytest.raises(ActuationError, match="is open"):
        await act.scale(3)
    await clock.advance(60)
    await act.scale(3)
    assert inner.calls == [3]


async def test_refusals_mean_the_platform_is_up() -> None:
    clock = FakeClock(T0)
    refusals = [ActuationError("403 forbidden", retryable=False) for _ in range(10)]
    act = BreakerActuator(MemoryActuator(service="api", failures=refusals), Breakers(), "actuator:api", clock)
    for _ in range(10):
        with pytest.raises(ActuationError, match="403"):
            await act.scale(3)
    assert act.breakers.get("actuator:api").state(clock.now()).value == "closed"


async def test_fewer_than_five_calls_never_open_it_and_old_failures_leave_the_window() -> None:
    clock = FakeClock(T0)
    inner = MemoryActuator(service="api", replicas=2, failures=down(4))
    breakers = Breakers()
    act = BreakerActuator(inner, breakers, "actuator:api", clock)
    for _ in range(4):
        with pytest.raises(ActuationError):
            await act.scale(3)
    assert breakers.get("actuator:api").state(clock.now()).value == "closed"  # 4 calls: too few to judge
    await clock.advance(61)  # those four are out of the minute's window
    await act.scale(3)
    assert breakers.snapshot(clock.now())[0]["calls_in_window"] == 1


async def test_breaker_state_in_metrics_follows_every_endpoint() -> None:
    clock = FakeClock(T0)
    breakers = Breakers()
    registry = CollectorRegistry()
    registry.register(BreakerMetrics(breakers, clock.now))  # type: ignore[arg-type]
    breakers.watch(lambda now: [{"endpoint": "oncall/webhook[0]", "state_code": 2, "opened_count": 4}])
    act = BreakerActuator(MemoryActuator(service="api", failures=down(5)), breakers, "actuator:api", clock)
    for _ in range(5):
        with pytest.raises(ActuationError):
            await act.scale(3)
    text = generate_latest(registry).decode()
    assert 'vigil_breaker_state{endpoint="actuator:api"} 1.0' in text
    assert 'vigil_breaker_state{endpoint="oncall/webhook[0]"} 2.0' in text
    assert 'vigil_breaker_opened_total{endpoint="actuator:api"} 1.0' in text


def test_configured_actuators_call_out_through_a_breaker(tmp_path: Path) -> None:
    cfg = parse_config(f"""
store: {{url: "sqlite:///{tmp_path / 'v.db'}"}}
services:
  - name: api
    scaling:
      min_replicas: 1
      max_replicas: 4
      metric: {{kind: utilization, series: cpu, target: 0.7}}
      actuator: {{kind: webhook, url: "http://127.0.0.1:9/scale"}}
""", env={})
    _, engine = build_app(cfg, clock=FakeClock(T0), collectors=[])
    try:
        [svc] = engine.stages.scale.services
        assert isinstance(svc.actuator, BreakerActuator) and svc.actuator.endpoint == "actuator:api"
        assert svc.actuator.breakers is engine.breakers and svc.actuator.kind == "webhook"
    finally:
        engine.store.close()
