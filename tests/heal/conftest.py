"""A vigil on a fake clock with the real engine, API and SQLite store, a MemoryActuator per service,
the audit and kill-switch fakes; runbooks given per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from vigil.app import build_app
from vigil.config import parse_config
from vigil.model import SeriesKey
from vigil.testing import FakeClock, FakeKillSwitch, InlineWriter, MemoryActuator, MemoryAudit

T0 = 1_700_000_000.0
KEY = "heal-test-key-0123456789"
BASE = """
store: {{url: "sqlite:///{db}"}}
server: {{api_keys: [{{name: alice, key: {key}}}]}}
incidents: {{correlation_window: 10m, reopen_window: 30m{incidents}}}
services:
  - {{name: storefront, depends_on: [payments, catalog]}}
  - {{name: payments}}
  - {{name: catalog}}
  - {{name: mailer}}
"""


@dataclass
class Vigil:
    clock: FakeClock
    engine: Any
    client: httpx.AsyncClient
    actuators: dict[str, Any]  # MemoryActuator unless the test gave another
    audit: MemoryAudit
    switch: FakeKillSwitch

    async def fire(self, name: str, service: str, status: str = "firing", severity: str = "critical") -> None:
        r = await self.client.post("/api/v1/alerts", json={"alerts": [
            {"name": name, "service": service, "severity": severity, "status": status, "summary": name}]})
        assert r.status_code == 200, r.text

    async def errors(self, service: str, value: float) -> None:
        await self.engine.push([SeriesKey.of("errors", {"service": service})], np.array([self.clock.now()]),
                               np.array([value]))

    async def run_for(self, seconds: float, errors: dict[str, float] | None = None, every: float = 1.0) -> None:
        """Advance the clock, pushing the error ratio of each service given every `every` seconds."""
        for _ in range(int(seconds / every)):
            for service, value in (errors or {}).items():
                await self.errors(service, value)
            await self.clock.advance(every)

    async def actions(self, state: str | None = None) -> list[dict[str, Any]]:
        r = await self.client.get("/api/v1/actions", params={"state": state} if state else {})
        assert r.status_code == 200, r.text
        return list(r.json()["actions"])


def start_vigil(tmp_path: Path, runbooks: str, clock: FakeClock | None = None, paused: bool = False,
                extra: str = "", real_audit: bool = False, incidents: str = "",
                actuators: Callable[[], dict[str, Any]] | None = None) -> Callable[[], Any]:
    """`real_audit`: the engine's own hash-chained audit log (read it at /api/v1/audit), not MemoryAudit.
    `actuators`: makes actuators to use instead of some services' MemoryActuator. `incidents`: more
    keys of the incidents section (", resolve_after: 5m")."""
    text = BASE.format(db=tmp_path / "v.db", key=KEY, incidents=incidents) + extra + runbooks
    cfg = parse_config(text, env={})

    async def make() -> Vigil:
        acting: dict[str, Any] = {s.name: MemoryActuator(service=s.name, replicas=2) for s in cfg.services}
        acting.update(actuators() if actuators is not None else {})
        audit, switch = MemoryAudit(), FakeKillSwitch(paused)
        app, engine = build_app(cfg, clock=clock or FakeClock(T0), collectors=[], writer=InlineWriter(),
                                worker=InlineWriter(), actuators=acting, audit=None if real_audit else audit,
                                switch=switch)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil.test",
                                   headers={"Authorization": f"Bearer {KEY}"})
        await engine.start()
        return Vigil(engine.clock, engine, client, acting, audit, switch)
    return make


async def stop(v: Vigil) -> None:
    await v.client.aclose()
    await v.engine.stop()
    v.engine.store.close()


@pytest.fixture
async def vigil_with(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """`await vigil_with(RUNBOOKS, paused=...)`: a started vigil, stopped at the end of the test."""
    made: list[Vigil] = []

    async def make(runbooks: str, **kw: Any) -> Vigil:
        v = await start_vigil(tmp_path, runbooks, **kw)()
        made.append(v)
        return v
    yield make
    for v in made:
        if v.engine.running:
            await stop(v)
