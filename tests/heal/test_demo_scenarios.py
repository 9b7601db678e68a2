"""The demo's runbooks (demo/heal.py) on the fake clock, against a simulated fleet: each service's
probe fails while it is broken, and a restart through its actuator mends it, as restarting a demo
service clears its fault. Crash, hang, leak, dependency outage, and (with a runbook of its own) an
error spike after a version change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

from vigil.app import build_app
from vigil.config import parse_config
from vigil.demo.heal import MB, MEMORY_RULE, demo_runbooks
from vigil.model import ProbeResult, SeriesKey
from vigil.sources.base import Collection
from vigil.testing import FakeClock, InlineWriter, MemoryActuator, MemoryAudit

KEY = "heal-demo-key-0123456789"
DEPENDS = {"storefront": ["catalog", "payments"], "catalog": [], "payments": []}


class Fleet:
    """What is broken, and how: a restart mends a service; a version rolled back mends a bad deploy."""

    def __init__(self) -> None:
        self.broken: set[str] = set()
        self.memory: dict[str, float] = {s: 40 * MB for s in DEPENDS}
        self.leaking: set[str] = set()

    def probe_ok(self, service: str) -> bool:
        return service not in self.broken and not any(d in self.broken for d in DEPENDS[service])


class DemoActuator(MemoryActuator):
    def __init__(self, fleet: Fleet, service: str) -> None:
        super().__init__(service=service, replicas=1)
        self.fleet = fleet

    async def restart(self, replicas: int | None = None, at_once: int = 1) -> int:
        n = await super().restart(replicas, at_once)
        self.fleet.broken.discard(self.service)
        self.fleet.leaking.discard(self.service)
        self.fleet.memory[self.service] = 40 * MB
        return n


class Probe:
    """A probe collector over the simulated fleet (one per service, every 2 s)."""

    kind, interval, timeout = "http", 2.0, 1.0

    def __init__(self, fleet: Fleet, service: str) -> None:
        self.fleet, self.service, self.name = fleet, service, "health"

    async def collect(self, now: float) -> Collection:
        ok = self.fleet.probe_ok(self.service)
        return Collection(self.service, "health", now,
                          probe=ProbeResult(self.service, "health", now, ok, 0.001, "ok" if ok else "HTTP 503"))


def config_text(db: Path, runbooks: list[dict[str, Any]]) -> str:
    services = [{"name": s, "depends_on": deps,
                 "probes": [{"kind": "http", "name": "health", "url": "http://127.0.0.1:9/health", "interval": "2s",
                             "timeout": "1s", "failure_threshold": 2, "success_threshold": 2}],
                 "rules": [dict(MEMORY_RULE), {"kind": "threshold", "name": "server-errors", "series": "errors",
                                               "above": 0.1, "clear": 0, "for": "0s", "severity": "critical"}]}
                for s, deps in DEPENDS.items()]
    return yaml.safe_dump({"store": {"url": f"sqlite:///{db}"}, "server": {"api_keys": [{"name": "t", "key": KEY}]},
                           "services": services, "runbooks": runbooks})


class Scenario:
    def __init__(self, tmp_path: Path, runbooks: list[dict[str, Any]] | None = None) -> None:
        self.fleet = Fleet()
        self.clock = FakeClock()
        cfg = parse_config(config_text(tmp_path / "v.db", runbooks or demo_runbooks()), env={})
        self.actuators = {s: DemoActuator(self.fleet, s) for s in DEPENDS}
        self.app, self.engine = build_app(cfg, clock=self.clock, writer=InlineWriter(), worker=InlineWriter(),
                                          collectors=[Probe(self.fleet, s) for s in DEPENDS],
                                          actuators=self.actuators, audit=MemoryAudit())
        self.errors: dict[str, float] = {}

    async def __aenter__(self) -> Scenario:
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://vigil.test",
                                        headers={"Authorization": f"Bearer {KEY}"})
        await self.engine.start()
        await self.run_for(10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        await self.engine.stop()
        self.engine.store.close()

    async def run_for(self, seconds: int) -> None:
        for _ in range(seconds):
            keys, values = [], []
            for s in DEPENDS:
                if s in self.fleet.leaking:
                    self.fleet.memory[s] += 2 * MB
                keys.append(SeriesKey.of("process_resident_memory_bytes", {"service": s}))
                values.append(self.fleet.memory[s])
                bad_version = len(self.actuators[s].versions) > 1
                keys.append(SeriesKey.of("errors", {"service": s}))
                values.append(0.6 if bad_version else 0.0)
            await self.engine.push(keys, np.full(len(keys), self.clock.now()), np.array(values))
            await self.clock.advance(1)

    async def actions(self) -> list[dict[str, Any]]:
        return list((await self.client.get("/api/v1/actions")).json()["actions"])


async def test_a_crashed_or_hung_service_is_restarted_and_verified(tmp_path: Path) -> None:
    async with Scenario(tmp_path) as sc:
        assert sc.engine.health()["catalog"] == "healthy"
        sc.fleet.broken.add("catalog")  # hung: the probe fails, the process is alive
        await sc.run_for(60)
        [action] = await sc.actions()
        assert (action["runbook"], action["service"], action["state"]) == ("restart-down", "catalog", "succeeded")
        assert sc.actuators["catalog"].restarts == [(1, 1)]
        assert sc.engine.health()["catalog"] == "healthy"
        assert all(not sc.actuators[s].restarts for s in ("storefront", "payments"))


async def test_a_dependency_outage_restarts_the_root_only(tmp_path: Path) -> None:
    async with Scenario(tmp_path) as sc:
        sc.fleet.broken.add("payments")  # storefront fails its probe too: it depends on payments
        await sc.run_for(60)
        incidents = (await sc.client.get("/api/v1/incidents", params={"status": "all"})).json()["incidents"]
        assert len(incidents) == 1 and incidents[0]["service"] == "payments"
        assert sorted(incidents[0]["services"]) == ["payments", "storefront"]
        assert [(a["service"], a["state"]) for a in await sc.actions()] == [("payments", "succeeded")]
        assert sc.actuators["storefront"].restarts == []


async def test_a_leak_is_restarted_before_it_runs_out_of_memory(tmp_path: Path) -> None:
    async with Scenario(tmp_path) as sc:
        sc.fleet.leaking.add("payments")  # 2 MB/s from 40 MB: 96 MB after 28 s, the cap (128 MB) after 44 s
        peak = 0.0
        for _ in range(60):
            await sc.run_for(1)
            peak = max(peak, sc.fleet.memory["payments"])
        [action] = await sc.actions()
        assert (action["runbook"], action["state"]) == ("restart-leak", "succeeded")
        assert peak < 128 * MB and sc.fleet.memory["payments"] < 96 * MB


async def test_an_error_spike_after_a_version_change_is_rolled_back(tmp_path: Path) -> None:
    rollback = {"name": "rollback-bad-deploy", "mode": "active",
                "trigger": {"alertname": ["server-errors"], "for": "5s"},
                "steps": [{"action": "rollback_version"}],
                "verify": {"probes_healthy": False, "metric": {"series": "errors", "max": 0.1}, "for": "10s",
                           "within": "60s"}}
    async with Scenario(tmp_path, [rollback]) as sc:
        sc.actuators["catalog"].versions.append("v2")  # a deploy: errors from now on
        await sc.run_for(40)
        [action] = await sc.actions()
        assert (action["service"], action["state"]) == ("catalog", "succeeded")
        assert sc.actuators["catalog"].versions == ["v1"]


async def test_a_service_that_stays_broken_is_escalated_once_with_its_story(tmp_path: Path) -> None:
    async with Scenario(tmp_path) as sc:
        sc.actuators["catalog"].failures.append(RuntimeError("restart refused"))  # type: ignore[arg-type]
        sc.fleet.broken.add("catalog")
        await sc.run_for(120)
        [action] = await sc.actions()
        assert action["state"] == "escalated" and "restart refused" in " ".join(action["story"])
        inc = (await sc.client.get(f"/api/v1/incidents/{action['incident']}")).json()
        assert inc["severity"] == "critical"
        assert [e["kind"] for e in inc["timeline"]].count("escalated") == 1
