"""One real process, real probes, real time: a loopback service hangs (its probe fails, its process
stays alive); the runbook restarts it through the process actuator (the new replica ready before the
old one is stopped) and the action is verified by the probe being healthy again."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

import httpx
import pytest

from vigil.act.actuators.process import ProcessActuator
from vigil.app import build_engine
from vigil.config import parse_config
from vigil.config.scaling import ProcessActuatorConfig
from vigil.demo.run import free_port
from vigil.testing import MemoryAudit

pytestmark = pytest.mark.slow

CFG = """
store: {{url: "sqlite:///{db}"}}
services:
  - name: hangs
    probes:
      - {{kind: http, url: "http://127.0.0.1:{port}/health", interval: 300ms, timeout: 250ms,
         failure_threshold: 2, success_threshold: 2}}
runbooks:
  - name: restart-hung
    mode: active
    trigger: {{alertname: [ProbeFailing]}}
    steps: [{{action: restart}}]
    verify: {{probes_healthy: true, for: 1s, within: 20s}}
"""


async def test_a_hung_real_service_is_restarted_and_verified(tmp_path: Path) -> None:
    port = free_port()
    worker = Path(__file__).with_name("hang_worker.py")
    actuator = ProcessActuator(ProcessActuatorConfig(kind="process", command=[sys.executable, str(worker)],
                                                     port=port, ready_line="ready", stop_timeout=2.0), "hangs")
    await actuator.scale(1)
    [old_pid] = actuator.pids()
    cfg = parse_config(CFG.format(db=tmp_path / "v.db", port=port), env={})
    engine = build_engine(cfg, actuators={"hangs": actuator}, audit=MemoryAudit())
    await engine.start()
    try:
        await asyncio.sleep(1.0)
        assert engine.health() == {"hangs": "healthy"}
        async with httpx.AsyncClient(timeout=0.3) as client:
            with contextlib.suppress(httpx.TimeoutException):
                await client.get(f"http://127.0.0.1:{port}/hang")
        deadline = time.monotonic() + 30
        state = None
        while time.monotonic() < deadline:
            found = await asyncio.to_thread(engine.store.actions)
            state = found[0].state if found else None
            if state in ("succeeded", "rolled_back", "failed", "escalated"):
                break
            await asyncio.sleep(0.2)
        [action] = await asyncio.to_thread(engine.store.actions)
        assert action.state == "succeeded", action.story
        assert action.steps[0].result["restarted"] == 1
        [new_pid] = actuator.pids()
        assert new_pid != old_pid
        async with httpx.AsyncClient(timeout=2) as client:
            assert (await client.get(f"http://127.0.0.1:{port}/x")).json() == {"pid": new_pid}
    finally:
        await engine.stop()
        await actuator.close()
        engine.store.close()
