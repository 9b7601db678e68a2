"""The scaling loop inside the engine, as a timeline on a fake clock: a policy reads the newest
metric sample, decides like the HPA, scales through the actuator, and records every decision."""

from __future__ import annotations

from pathlib import Path

from vigil.act.actuators.memory import MemoryActuator
from vigil.app import build_app
from vigil.config import parse_config
from vigil.model import Sample, SeriesKey
from vigil.sources import Collection
from vigil.stages.scaling import ScalingStage
from vigil.testing import FakeClock

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


async def advance(clock: FakeClock, seconds: float) -> None:
    """Second by second, with a moment of real time for the store's writer thread each step (the
    fake clock would otherwise outrun the pipeline's writes)."""
    import asyncio

    for _ in range(int(seconds)):
        await clock.advance(1)
        await asyncio.sleep(0.01)


async def run(tmp_path: Path, mode: str, values: list[float], seconds: float) -> tuple[MemoryActuator, list]:
    cfg = parse_config(CFG.format(db=tmp_path / "v.db", mode=mode), env={})
    clock = FakeClock(T0)
    app, engine = build_app(cfg, clock=clock, collectors=[Utilization(values)])
    actuator = MemoryActuator(service="api", replicas=2)
    stage = next(s for s in engine.stages if isinstance(s, ScalingStage))
    stage._actuators["api"] = actuator
    await engine.start()
    await advance(clock, seconds)
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
    assert first.result["outcome"]["status"] in ("succeeded", "unverified")
    assert all(not d.result["act"] for d in decisions[1:])
    assert len(decisions) >= 3  # one decision per 15 s control period


async def test_shadow_mode_decides_and_never_acts(tmp_path: Path) -> None:
    actuator, decisions = await run(tmp_path, "shadow", [1.4] * 12, 60)
    assert actuator.calls == []
    assert decisions and all(not d.result["act"] for d in decisions)
    assert any("shadow" in d.result for d in decisions)


async def test_no_metric_no_decision(tmp_path: Path) -> None:
    cfg = parse_config(CFG.format(db=tmp_path / "v.db", mode="reactive"), env={})
    clock = FakeClock(T0)
    app, engine = build_app(cfg, clock=clock, collectors=[])
    await engine.start()
    await advance(clock, 60)
    await engine.stop()
    assert engine.store.decisions(kind="scale") == []
    engine.store.close()


async def test_an_actuator_below_min_is_brought_up_at_start(tmp_path: Path) -> None:
    """An actuator that owns its replicas starts with none (the process actuator): the loop brings it
    to min_replicas before any metric exists, and records why."""
    cfg = parse_config(CFG.format(db=tmp_path / "v.db", mode="reactive"), env={})
    clock = FakeClock(T0)
    app, engine = build_app(cfg, clock=clock, collectors=[])
    actuator = MemoryActuator(service="api", replicas=0)
    stage = next(s for s in engine.stages if isinstance(s, ScalingStage))
    stage._actuators["api"] = actuator
    await engine.start()
    await advance(clock, 20)
    await engine.stop()
    (first,) = engine.store.decisions(kind="scale")  # no metric: no other decision
    engine.store.close()
    assert actuator.calls == [2] and stage.controllers["api"].replicas == 2
    assert first.rule == "CurrentBelowMin" and first.inputs["current_replicas"] == 0
    assert first.result["replicas"] == 2 and first.result["outcome"]["status"] == "succeeded"
    assert stage.last["api"] is not None
