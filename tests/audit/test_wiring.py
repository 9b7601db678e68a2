"""What else reaches the audit log: configuration reloads (applied and refused), what an actuator did
on its own, and calls made through a breaker from any thread or task."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.engine.test_reload import KEY, config
from tests.engine.test_scaling_stage import engine_for
from vigil.act.actuators.base import ActuatorNote
from vigil.app import build_app
from vigil.breaker import BreakerOpen, Breakers
from vigil.config import load_config
from vigil.runner import alerting_reloader
from vigil.testing import FakeClock, InlineWriter, MemoryActuator


async def test_reloads_are_audited_applied_or_refused(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(config(tmp_path / "v.db", "team-a"))
    app, engine = build_app(load_config(path), collectors=[], writer=InlineWriter(), worker=InlineWriter())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil.test",
                                 headers={"Authorization": f"Bearer {KEY}"}) as client:
        await engine.start()
        app.state.reload = reload = alerting_reloader(engine, path)
        try:
            path.write_text(config(tmp_path / "v.db", "team-b"))
            assert (await client.post("/-/reload")).status_code == 200
            path.write_text("alerting: [")
            assert (await client.post("/-/reload")).status_code == 400
            assert await reload("SIGHUP")  # the signal's reload goes the same way: refused, and audited
            await engine.audit.flush()
            applied, refused, signalled = reversed(engine.audit.records(action="config.reload"))
        finally:
            await engine.stop()
            engine.store.close()
    assert applied.actor == "key:ops" and applied.result == {"applied": "alerting"}
    assert applied.inputs == {"file": str(path)}
    assert refused.result["applied"] is False and refused.result["problems"]
    assert signalled.actor == "signal:SIGHUP"


async def test_what_an_actuator_did_on_its_own_is_audited(tmp_path: Path) -> None:
    actuator = MemoryActuator(service="api", replicas=2)
    engine, clock = engine_for(tmp_path, "reactive", [], actuator)
    await engine.start()
    actuator.notes.append(ActuatorNote("replace_replica", "replica 1 exited; started a new one",
                                       {"replica": 1}, {"pid": 4242}))
    await clock.advance(5)
    await engine.stop()
    [rec] = engine.audit.records(action="replica.replace_replica")
    engine.store.close()
    assert rec.actor == "engine" and rec.service == "api" and rec.reason == "replica 1 exited; started a new one"
    assert rec.inputs == {"actuator": "memory", "replica": 1} and rec.result == {"pid": 4242}


async def test_a_cancelled_call_gives_its_trial_slot_back() -> None:
    clock = FakeClock()
    breakers = Breakers()
    b = breakers.get("webhook:deploy")
    for _ in range(5):
        b.record(False, clock.now())
    await clock.advance(60)

    async def slow() -> None:
        await asyncio.Event().wait()

    calls = [asyncio.ensure_future(breakers.call("webhook:deploy", clock.now, slow)) for _ in range(3)]
    await asyncio.sleep(0)
    with pytest.raises(BreakerOpen):  # three trials out: a fourth is not let through
        await breakers.call("webhook:deploy", clock.now, slow)
    calls[0].cancel()
    await asyncio.gather(*calls[:1], return_exceptions=True)

    async def fine() -> str:
        return "ok"

    assert await breakers.call("webhook:deploy", clock.now, fine) == "ok"
    for c in calls[1:]:
        c.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
