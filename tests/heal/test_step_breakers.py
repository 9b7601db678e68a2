"""A runbook's calls out go through the engine's circuit breakers, as scaling's do: an HTTP endpoint
(`runbook:ORIGIN`) that keeps failing is left alone until its breaker half-opens, an endpoint that
answers "no" (a 4xx) is up; an actuator's restart and rollback share `actuator:SERVICE` with its
scaling calls. Against a real loopback server on the fake clock; and the engine's wiring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.heal.conftest import Vigil
from tests.heal.test_actions import ctx
from tests.heal.test_remediate_timeline import RESTART
from tests.notify.receivers import HttpReceiver
from vigil.act.actuators.base import ActuationError
from vigil.breaker import BreakerPolicy, Breakers
from vigil.heal.actions import run_step
from vigil.heal.actions.calls import endpoint_of
from vigil.heal.actions.params import HttpParams, RestartParams, RollbackVersionParams
from vigil.testing import MemoryActuator

POLICY = BreakerPolicy(failure_ratio=0.5, window=60, min_calls=2, open_for=30, trial_calls=1)


@pytest.fixture
async def endpoint() -> AsyncIterator[HttpReceiver]:
    rx = await HttpReceiver().start()
    yield rx
    await rx.stop()


def state(breakers: Breakers, name: str) -> str:
    return str(next(s["state"] for s in breakers.snapshot(0) if s["endpoint"] == name))


async def test_a_failing_endpoint_is_left_alone_until_its_breaker_half_opens(endpoint: HttpReceiver) -> None:
    c = ctx()
    c.breakers = Breakers(POLICY)
    step = HttpParams.model_validate({"action": "http", "url": endpoint.url + "/{service}/flush"})
    endpoint.answer(503, times=2)
    outs = [await run_step(step, c) for _ in range(3)]
    assert [o.ok for o in outs] == [False, False, False] and "answered 503" in outs[0].detail
    name = endpoint_of(endpoint.url)
    assert "not called: circuit breaker of " + name + " is open" in outs[2].detail
    assert len(endpoint.arrivals) == 2  # the third was never sent
    await c.clock.advance(31)  # open_for passed: one trial call goes through, and it works
    again = await run_step(step, c)
    assert again.ok and len(endpoint.arrivals) == 3 and state(c.breakers, name) == "closed"


async def test_an_endpoint_that_answers_no_is_up(endpoint: HttpReceiver) -> None:
    c = ctx()
    c.breakers = Breakers(POLICY)
    endpoint.answer(404, times=5)
    step = HttpParams.model_validate({"action": "http", "url": endpoint.url + "/flush"})
    outs = [await run_step(step, c) for _ in range(4)]
    assert all(not o.ok and "answered 404" in o.detail for o in outs) and len(endpoint.arrivals) == 4
    assert state(c.breakers, endpoint_of(endpoint.url)) == "closed"


class Flaky(MemoryActuator):
    """An actuator whose platform is down (retryable) or refuses (not retryable), as scripted."""

    def __init__(self, errors: list[bool]) -> None:
        super().__init__(service="web", replicas=2)
        self.errors, self.tries = errors, 0

    async def restart(self, replicas: int | None = None, at_once: int = 1) -> int:
        self.tries += 1
        if self.errors:
            raise ActuationError("platform says no", retryable=self.errors.pop(0))
        return await super().restart(replicas, at_once)

    async def rollback_version(self) -> int:
        return await self.restart()


async def test_restart_and_rollback_share_the_actuators_breaker() -> None:
    act = Flaky([True, True])
    c = ctx(act)
    c.breakers = Breakers(POLICY)
    first = await run_step(RestartParams(action="restart"), c)
    second = await run_step(RollbackVersionParams(action="rollback_version"), c)
    third = await run_step(RestartParams(action="restart"), c)
    assert not first.ok and not second.ok and "restart not tried: circuit breaker of actuator:web" in third.detail
    assert act.tries == 2
    refusing = Flaky([False, False, False])
    c = ctx(refusing)
    c.breakers = Breakers(POLICY)
    outs = [await run_step(RestartParams(action="restart"), c) for _ in range(3)]
    assert all("platform says no" in o.detail for o in outs) and refusing.tries == 3  # a refusal: it is up
    assert state(c.breakers, "actuator:web") == "closed"


HTTP_RUNBOOK = RESTART.replace('      - {action: restart, replicas: 1}\n      - {action: notify, message: "restarted '
                               '{service}"}\n', '      - {action: http, url: "URL/{service}/flush"}\n')


@pytest.mark.timeout(60)
async def test_the_engine_gives_runbook_steps_its_breakers(vigil_with: Any, endpoint: HttpReceiver) -> None:
    v: Vigil = await vigil_with(HTTP_RUNBOOK.replace("URL", endpoint.url))
    await v.fire("PaymentsDown", "payments")
    await v.run_for(15, errors={"payments": 0.01})
    [action] = await v.actions()
    assert [s["kind"] for s in action["steps"]] == ["http"]
    assert action["steps"][0]["state"] == "succeeded", action["story"]
    listed = (await v.client.get("/api/v1/breakers")).json()["breakers"]
    [mine] = [b for b in listed if b["endpoint"] == endpoint_of(endpoint.url)]
    assert mine["state"] == "closed" and mine["calls_in_window"] == 1
