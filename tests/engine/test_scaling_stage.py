"""The scale stage inside the engine, as a timeline on a fake clock: a policy reads the newest
metric sample, decides like the HPA every sync period, scales through the actuator, and every
decision travels in a batch to the record stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vigil.act.actuators.base import ActuatorNote
from vigil.app import build_app
from vigil.config import parse_config
from vigil.model import Sample, SeriesKey
from vigil.sources import Collection
from vigil.testing import FakeClock, InlineWriter, MemoryActuator

T0 = 1_700_000_000.0
CFG = """
store: {{url: "sqlite:///{db}"}}
services:
  - name: api
    scaling:
      mode: {mode}
      min_replicas: 2
      max_replicas: 10
      metric: {{kind: utilization, series: cpu_utilization, target: 0.7}}
"""


class Utilization:
    kind, name, service, interval, timeout = "scrape", "scrape", "api", 5.0, 1.0

    def __init__(self, values: list[float]) -> None:
        self.values = values

    async def collect(self, now: float) -> Collection:
        v = self.values.pop(0) if self.values else 0.7
        return Collection("api", "scrape", now,
                          samples=[Sample(SeriesKey.of("cpu_utilization", {"service": "api"}), now, v)])


def engine_for(tmp_path: Path, mode: str, collectors: list[Any], actuator: MemoryActuator) -> tuple[Any, FakeClock]:
    cfg = parse_config(CFG.format(db=tmp_path / "v.db", mode=mode), env={})
    clock = FakeClock(T0)
    _, engine = build_app(cfg, clock=clock, collectors=collectors, actuators={"api": actuator},
                          writer=InlineWriter(), worker=InlineWriter())
    return engine, clock


async def run(tmp_path: Path, mode: str, values: list[float], seconds: float) -> tuple[MemoryActuator, list]:
    actuator = MemoryActuator(service="api", replicas=2)
    engine, clock = engine_for(tmp_path, mode, [Utilization(values)], actuator)
    await engine.start()
    await clock.advance(seconds)
    await engine.stop()
    decisions = engine.store.decisions(kind="scale")
    engine.store.close()
    return actuator, decisions


async def test_high_utilisation_scales_up_once_and_records_why(tmp_path: Path) -> None:
    actuator, decisions = await run(tmp_path, "reactive", [1.4] * 4 + [0.7] * 10, 60)
    assert actuator.calls == [4]  # ceil(2 * 1.4 / 0.7): one step, then within tolerance
    first = decisions[0]
    assert first.subject == "api" and first.result["replicas"] == 4 and first.result["act"] is True
    assert first.inputs["metric"] == 1.4 and first.inputs["current_replicas"] == 2
    assert first.result["outcome"]["status"] == "succeeded"
    assert all(not d.result["act"] for d in decisions[1:])
    assert [d.ts for d in decisions] == [T0 + 15, T0 + 30, T0 + 45, T0 + 60]  # one per 15 s sync period


async def test_shadow_mode_decides_and_never_acts(tmp_path: Path) -> None:
    actuator, decisions = await run(tmp_path, "shadow", [1.4] * 12, 60)
    assert actuator.calls == []
    assert decisions and all(not d.result["act"] for d in decisions)
    assert any("shadow" in d.result for d in decisions)


async def test_no_metric_no_decision(tmp_path: Path) -> None:
    engine, clock = engine_for(tmp_path, "reactive", [], MemoryActuator(service="api", replicas=2))
    await engine.start()
    await clock.advance(60)
    await engine.stop()
    assert engine.store.decisions(kind="scale") == []
    engine.store.close()


async def test_an_actuator_below_min_is_brought_up_at_start(tmp_path: Path) -> None:
    """An actuator that owns its replicas starts with none (the process actuator): the loop brings it
    to min_replicas before any metric exists, and records why."""
    actuator = MemoryActuator(service="api", replicas=0)
    engine, clock = engine_for(tmp_path, "reactive", [], actuator)
    await engine.start()
    await clock.advance(20)
    await engine.stop()
    (first,) = engine.store.decisions(kind="scale")  # no metric: no other decision
    engine.store.close()
    stage = engine.stages.scale
    assert actuator.calls == [2] and stage.controllers["api"].replicas == 2
    assert first.rule == "CurrentBelowMin" and first.inputs["current_replicas"] == 0 and first.ts == T0 + 1
    assert first.result["replicas"] == 2 and first.result["outcome"]["status"] == "succeeded"
    assert stage.last["api"].rule == "CurrentBelowMin"


async def test_what_an_actuator_does_on_its_own_is_recorded(tmp_path: Path) -> None:
    """A replica the actuator replaced (as the process actuator does when one exits) is an event and
    a decision: every action vigil takes is recorded."""
    actuator = MemoryActuator(service="api", replicas=2)
    engine, clock = engine_for(tmp_path, "reactive", [], actuator)
    await engine.start()
    await clock.advance(3)
    actuator.notes.append(ActuatorNote("replace_replica", "replica 1 (pid 42) exited with status 70; replaced by "
                                       "pid 43 after 1s", {"replica": 1, "pid": 42, "exit_status": 70},
                                       {"replaced": True, "pid": 43}))
    await clock.advance(2)
    await engine.stop()
    [decision] = engine.store.decisions(kind="replica")
    [event] = engine.store.events(kind="actuator")
    engine.store.close()
    assert decision.subject == "api" and decision.rule == "replace_replica" and decision.ts == T0 + 4
    assert decision.inputs == {"actuator": "memory", "replica": 1, "pid": 42, "exit_status": 70}
    assert decision.result == {"replaced": True, "pid": 43}
    assert event.message == "api: replica 1 (pid 42) exited with status 70; replaced by pid 43 after 1s"
