"""The kill switch with the scale stage, as a timeline on a fake clock: while paused the policy still
decides every period and each would-be action is recorded as paused (decision and audit record) and
nothing is scaled; after resume the same load scales; a pause survives a restart."""

from __future__ import annotations

from pathlib import Path

from tests.engine.test_scaling_stage import T0, Utilization, engine_for
from vigil.testing import MemoryActuator


async def test_paused_decisions_are_recorded_and_nothing_scales_until_resume(tmp_path: Path) -> None:
    actuator = MemoryActuator(service="api", replicas=2)
    engine, clock = engine_for(tmp_path, "reactive", [Utilization([1.4] * 40)], actuator)
    await engine.start()
    await engine.automation.set(True, "user:carol", "deploy freeze")
    await clock.advance(45)
    assert actuator.calls == []
    held = engine.store.decisions(kind="scale")
    assert len(held) == 3 and all(d.result["paused"] and not d.result["act"] for d in held)
    assert all(d.result["outcome"]["status"] == "paused" for d in held)
    await engine.automation.set(False, "user:carol", "freeze over")
    await clock.advance(15)
    assert actuator.calls == [4]
    await engine.stop()
    audit = list(reversed(engine.audit.records()))
    engine.store.close()
    assert [(r.actor, r.action) for r in audit] == [("user:carol", "automation.pause")] + [
        ("engine", "scale")] * 3 + [("user:carol", "automation.resume"), ("engine", "scale")]
    assert all(r.result["paused"] for r in audit[1:4])
    acted = audit[-1]
    assert acted.result["act"] is True and acted.result["outcome"]["status"] == "succeeded"
    assert acted.service == "api" and acted.reason["rule"] and "cpu_utilization" in acted.reason["signal"]
    assert acted.inputs["current_replicas"] == 2 and acted.ts == T0 + 60


async def test_a_pause_survives_a_restart(tmp_path: Path) -> None:
    actuator = MemoryActuator(service="api", replicas=2)
    engine, clock = engine_for(tmp_path, "reactive", [], actuator)
    await engine.start()
    await engine.automation.set(True, "key:ops", "incident 12")
    await engine.stop()
    engine.store.close()
    again, clock = engine_for(tmp_path, "reactive", [Utilization([1.4] * 10)], actuator)
    await again.start()
    try:
        assert again.automation.is_paused()
        assert again.automation.state.by == "key:ops" and again.automation.state.reason == "incident 12"
        await clock.advance(30)
        assert actuator.calls == []
    finally:
        await again.stop()
        again.store.close()
