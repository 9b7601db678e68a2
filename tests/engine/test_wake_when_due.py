"""Live (the system clock), the engine runs a pass when a group's group_wait ends, not only at the
next tick: with a tick of 10 s and a group_wait of 0.3 s, the first notification of a new alert reaches
a real webhook receiver long before the first tick after it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.notify.receivers import HttpReceiver
from vigil.app import build_app
from vigil.config import parse_config
from vigil.model import Alert, AlertStatus
from vigil.pipeline import AlertsIn

pytestmark = pytest.mark.slow


async def test_a_group_is_told_when_its_group_wait_ends(tmp_path: Path) -> None:
    receiver = await HttpReceiver().start()
    cfg = parse_config(f"""
store: {{url: "sqlite:///{tmp_path / 'vigil.db'}"}}
engine: {{tick: 10s}}
services: [{{name: db}}]
alerting:
  route: {{receiver: hook, group_by: [alertname], group_wait: 300ms, group_interval: 1m}}
  receivers: [{{name: hook, webhook_configs: [{{url: "{receiver.url}/hook"}}]}}]
""", env={})
    _, engine = build_app(cfg, collectors=[])
    await engine.start()
    try:
        await asyncio.sleep(0.5)  # past the first tick's pass
        sent = time.monotonic()
        now = engine.clock.now()
        alert = Alert({"alertname": "DbDown", "service": "db"}, AlertStatus.FIRING, now, None, {}, "test")
        await engine.submit_alerts(AlertsIn([alert], []))
        for _ in range(400):  # at most about 8 s: the next tick is about 9.5 s away
            if receiver.requests:
                break
            await asyncio.sleep(0.02)
        took = time.monotonic() - sent
        assert receiver.requests, "not told before the next tick"
        assert took >= 0.3  # not before its group_wait either
        assert receiver.bodies()[0]["alerts"][0]["labels"]["alertname"] == "DbDown"
    finally:
        await engine.stop()
        engine.store.close()
        await receiver.stop()
