"""Incidents as timelines on a fake clock through the real engine, API and SQLite store: related
alerts across the dependency graph make one incident about the upstream service; it resolves with its
alerts and reopens when they come back; people acknowledge, assign, annotate and resolve it; a restart
forgets nothing."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from vigil.app import build_app
from vigil.config import parse_config
from vigil.testing import FakeClock, InlineWriter

T0 = 1_700_000_000.0
KEY = "incidents-test-key"
CFG = """
store: {{url: "sqlite:///{db}"}}
server: {{api_keys: [{{name: alice, key: {key}}}]}}
incidents: {{correlation_window: 10m, reopen_window: 30m}}
services:
  - {{name: storefront, depends_on: [payments, catalog]}}
  - {{name: payments}}
  - {{name: catalog}}
  - {{name: mailer}}
"""


def build(tmp_path: Path, clock: FakeClock, config: str = CFG) -> tuple[Any, Any]:
    cfg = parse_config(config.format(db=tmp_path / "v.db", key=KEY), env={})
    return build_app(cfg, clock=clock, collectors=[], writer=InlineWriter(), worker=InlineWriter())


@contextlib.asynccontextmanager
async def running(app: Any, engine: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The engine started, and a client of its API with the test key; stopped and closed after."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil.test",
                                 headers={"Authorization": f"Bearer {KEY}"}) as client:
        await engine.start()
        try:
            yield client
        finally:
            await engine.stop()
            engine.store.close()


@pytest.fixture
async def vigil(tmp_path: Path) -> Any:
    clock = FakeClock(T0)
    app, engine = build(tmp_path, clock)
    async with running(app, engine) as client:
        yield clock, engine, client


async def fire(client: httpx.AsyncClient, name: str, service: str, status: str = "firing",
               severity: str = "critical") -> None:
    r = await client.post("/api/v1/alerts", json={"alerts": [
        {"name": name, "service": service, "severity": severity, "status": status, "summary": f"{name} on {service}"}]})
    assert r.status_code == 200, r.text


async def incidents(client: httpx.AsyncClient, status: str = "all") -> list[dict[str, Any]]:
    return (await client.get("/api/v1/incidents", params={"status": status})).json()["incidents"]


async def test_a_dependency_outage_is_one_incident_about_the_dependency(vigil: Any) -> None:
    clock, engine, client = vigil
    await fire(client, "StorefrontErrors", "storefront", severity="warning")  # the symptom comes first
    await clock.advance(20)
    await fire(client, "PaymentsDown", "payments")
    await clock.advance(20)
    await fire(client, "CatalogSlow", "catalog", severity="warning")  # a sibling callee: 2 hops away
    await fire(client, "MailerQueue", "mailer")  # unrelated: its own incident
    found = await incidents(client)
    assert len(found) == 2
    shop = next(i for i in found if "storefront" in i["services"])
    assert shop["services"] == ["storefront", "payments", "catalog"] and shop["severity"] == "critical"
    assert shop["service"] == "payments"  # the callee the others depend on, before any ranking
    assert shop["title"] == "payments: StorefrontErrors and 2 more alerts on storefront, catalog"
    detail = (await client.get(f"/api/v1/incidents/{shop['id']}")).json()
    whys = [a["why"] for a in detail["alerts"]]
    assert whys[1] == "payments - storefront in the dependency graph"
    assert whys[2] == "catalog - storefront in the dependency graph"
    assert [e["kind"] for e in detail["timeline"]] == ["opened", "alert_joined", "alert_joined", "alert_joined"]
    decisions = engine.store.decisions(kind="incident", subject=str(shop["id"]))
    assert [d.rule for d in decisions] == ["new", "dependency", "dependency"]


async def test_an_incident_resolves_with_its_alerts_and_reopens_when_they_return(vigil: Any) -> None:
    clock, engine, client = vigil
    await fire(client, "PaymentsDown", "payments")
    await fire(client, "StorefrontErrors", "storefront")
    await clock.advance(60)
    await fire(client, "PaymentsDown", "payments", "resolved")
    [inc] = await incidents(client, "active")
    await fire(client, "StorefrontErrors", "storefront", "resolved")
    [inc] = await incidents(client)
    assert inc["status"] == "resolved" and inc["resolved_at"] == T0 + 60 and inc["resolved_by"] is None
    await clock.advance(300)
    await fire(client, "PaymentsDown", "payments")  # back within reopen_window: the same incident
    [inc] = await incidents(client)
    assert inc["status"] == "open" and inc["reopened"] == 1
    await fire(client, "PaymentsDown", "payments", "resolved")
    await clock.advance(31 * 60)
    await fire(client, "PaymentsDown", "payments")  # long after: a new incident
    assert [i["id"] for i in await incidents(client)] == [2, 1]


async def test_a_symptom_joins_the_live_failure_it_depends_on_rather_than_reopening_its_own(vigil: Any) -> None:
    """storefront's errors had an incident of their own that resolved; they return while payments (which
    storefront depends on) is failing in an open incident: they are that failure's symptom, not the
    old problem back, so they join payments' incident (a runbook then acts on payments alone)."""
    clock, engine, client = vigil
    await fire(client, "StorefrontErrors", "storefront")
    await clock.advance(30)
    await fire(client, "StorefrontErrors", "storefront", "resolved")
    await clock.advance(120)
    await fire(client, "PaymentsDown", "payments")  # a new incident: nothing of payments is open
    await clock.advance(5)
    await fire(client, "StorefrontErrors", "storefront")  # within the reopen window of incident 1
    first, second = sorted(await incidents(client), key=lambda i: i["id"])
    assert first["status"] == "resolved" and first["reopened"] == 0
    assert second["services"] == ["payments", "storefront"] and second["service"] == "payments"
    await fire(client, "PaymentsDown", "payments", "resolved")
    await fire(client, "StorefrontErrors", "storefront", "resolved")
    await clock.advance(60)
    await fire(client, "StorefrontErrors", "storefront")  # nothing upstream failing: the same incident back
    assert [(i["id"], i["status"], i["reopened"]) for i in await incidents(client, "active")] == [(2, "open", 1)]


async def test_a_symptom_joins_the_live_failure_even_where_its_service_already_is(vigil: Any) -> None:
    """As above, when the incident of the live failure already holds another alert of the caller:
    StorefrontSlow (whose last incident resolved) joins catalog's incident, not its old one."""
    clock, engine, client = vigil
    await fire(client, "StorefrontSlow", "storefront", severity="warning")
    await clock.advance(10)
    await fire(client, "StorefrontSlow", "storefront", "resolved", severity="warning")
    await clock.advance(30)
    await fire(client, "CatalogDown", "catalog")
    await fire(client, "StorefrontErrors", "storefront")  # joins catalog's incident
    await clock.advance(3)
    await fire(client, "StorefrontSlow", "storefront", severity="warning")
    first, second = sorted(await incidents(client), key=lambda i: i["id"])
    assert first["status"] == "resolved" and first["reopened"] == 0
    detail = (await client.get(f"/api/v1/incidents/{second['id']}")).json()
    assert sorted(a["alertname"] for a in detail["alerts"]) == ["CatalogDown", "StorefrontErrors", "StorefrontSlow"]


async def test_people_acknowledge_assign_note_and_resolve(vigil: Any) -> None:
    clock, engine, client = vigil
    await fire(client, "PaymentsDown", "payments")
    [inc] = await incidents(client)
    r = await client.post(f"/api/v1/incidents/{inc['id']}/acknowledge")
    assert r.status_code == 200 and r.json()["status"] == "acknowledged" and r.json()["acknowledged_by"] == "alice"
    assigned = await client.post(f"/api/v1/incidents/{inc['id']}/assign", json={"assignee": "bob"})
    assert assigned.json()["assignee"] == "bob"
    assert (await client.post(f"/api/v1/incidents/{inc['id']}/notes", json={"text": "DB failover"})).status_code == 200
    empty = await client.post(f"/api/v1/incidents/{inc['id']}/notes", json={"text": " "})
    assert empty.status_code == 409 and "needs text" in empty.text
    r = await client.post(f"/api/v1/incidents/{inc['id']}/resolve", json={"note": "failed over"})
    assert r.json()["status"] == "resolved" and r.json()["resolved_by"] == "alice"
    again = await client.post(f"/api/v1/incidents/{inc['id']}/acknowledge")
    assert again.status_code == 409 and "resolved" in again.text
    assert (await client.post("/api/v1/incidents/99/acknowledge")).status_code == 404
    timeline = (await client.get(f"/api/v1/incidents/{inc['id']}")).json()["timeline"]
    assert [(e["kind"], e["actor"]) for e in timeline] == [
        ("opened", "vigil"), ("alert_joined", "vigil"), ("acknowledged", "alice"), ("assigned", "alice"),
        ("note", "alice"), ("resolved", "alice")]
    assert timeline[4]["message"] == "DB failover"
    assert (await client.get("/api/v1/incidents", params={"status": "nope"})).status_code == 400


async def test_incidents_survive_a_restart(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    _, engine = build(tmp_path, clock)
    await engine.start()
    from vigil.model import Alert, AlertStatus
    from vigil.pipeline import AlertsIn

    down = Alert({"alertname": "PaymentsDown", "service": "payments", "severity": "critical"},
                 AlertStatus.FIRING, T0, source="ingest:generic")
    await engine.submit_alerts(AlertsIn([down]))
    await engine.stop()
    engine.store.close()

    _, engine = build(tmp_path, clock)
    await engine.start()
    errors = Alert({"alertname": "StorefrontErrors", "service": "storefront", "severity": "warning"},
                   AlertStatus.FIRING, T0 + 5, source="ingest:generic")
    await engine.submit_alerts(AlertsIn([errors]))
    await engine.submit_alerts(AlertsIn([down.resolve(T0 + 9, "fixed"), errors.resolve(T0 + 9, "fixed")]))
    await engine.stop()
    [inc] = engine.store.incidents(status=None, with_members=True)
    engine.store.close()
    assert inc.id == 1 and set(inc.members) == {down.fingerprint, errors.fingerprint}
    assert inc.status.value == "resolved"
