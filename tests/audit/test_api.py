"""The guard rails over the API, through the real engine and store on a fake clock: people's changes
(incident, silence, requeue, the kill switch) each leave one audit record with who and what; the
audit endpoint filters and pages; bad requests answer 400 and change nothing; the kill switch and
the breakers show in the API and in /metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engine.test_notify_timeline import T0, alert
from tests.engine.test_silences_api import KEY, WITH_KEY
from vigil.app import build_app
from vigil.audit import first_break
from vigil.config import parse_config
from vigil.pipeline import AlertsIn
from vigil.store.audit import walk
from vigil.testing import FakeClock, FakeNotifier, InlineWriter


@pytest.fixture
async def vigil(tmp_path: Path) -> Any:
    clock = FakeClock(T0)
    app, engine = build_app(parse_config(WITH_KEY.format(db=tmp_path / "v.db"), env={}), clock=clock,
                            collectors=[], writer=InlineWriter(), worker=InlineWriter(),
                            notifiers={"oncall": [FakeNotifier()]})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil.test",
                                 headers={"Authorization": f"Bearer {KEY}"}) as client:
        await engine.start()
        try:
            yield clock, engine, client
        finally:
            await engine.stop()
            engine.store.close()


async def records(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/audit", params=params)
    assert r.status_code == 200, r.text
    return r.json()["records"]


async def test_peoples_changes_are_audited_with_who_and_what(vigil: Any) -> None:
    clock, engine, client = vigil
    await engine.submit_alerts(AlertsIn([alert("PaymentsDown", "payments", T0)]))
    await clock.advance(1)
    assert (await client.post("/api/v1/incidents/1/acknowledge")).status_code == 200
    assert (await client.post("/api/v1/incidents/1/assign", json={"assignee": "alice"})).status_code == 200
    assert (await client.post("/api/v1/incidents/1/notes", json={"text": "db failover"})).status_code == 200
    r = await client.post("/api/v1/silences", json={"matchers": '{service="payments"}', "ends_at": T0 + 3600,
                                                    "comment": "drill"})
    sid = r.json()["id"]
    assert (await client.delete(f"/api/v1/silences/{sid}")).status_code == 200
    assert (await client.post("/api/v1/notifications/requeue", json={"ids": [12345]})).status_code == 200
    assert (await client.post("/api/v1/incidents/1/resolve", json={"note": "fixed"})).status_code == 200
    assert (await client.post("/api/v1/incidents/99/acknowledge")).status_code == 404  # changed nothing
    found = list(reversed(await records(client)))
    assert [(r["actor"], r["action"]) for r in found] == [
        ("key:bob", "incident.acknowledge"), ("key:bob", "incident.assign"), ("key:bob", "incident.note"),
        ("key:bob", "silence.create"), ("key:bob", "silence.expire"), ("key:bob", "notification.requeue"),
        ("key:bob", "incident.resolve")]
    assign = found[1]
    assert assign["incident"] == 1 and assign["service"] == "payments" and assign["inputs"] == {"assignee": "alice"}
    assert assign["result"]["assignee"] == "alice"
    assert found[3]["reason"] == "drill" and found[3]["result"]["id"] == sid
    assert found[5]["inputs"] == {"ids": [12345]}
    assert found[5]["result"] == {"requeued": [], "refused": {"12345": "no such notification"}}
    assert first_break(walk(engine.store.audit_page)) == (7, None)


async def test_audit_filters_search_and_pages(vigil: Any) -> None:
    clock, engine, client = vigil
    for i in range(5):
        engine.audit.append("engine", "scale", {"rule": "HPA"}, {"i": i}, {"act": True}, 0.1, service="api")
        await clock.advance(10)
    engine.audit.append("key:bob", "incident.note", {"incident": 7}, {"text": "100% sure"}, {}, 0, incident=7)
    await engine.audit.flush()
    assert len(await records(client, actor="engine")) == 5
    assert [r["incident"] for r in await records(client, incident=7)] == [7]
    assert [r["id"] for r in await records(client, q="100%")] == [6]
    assert [r["inputs"]["i"] for r in await records(client, since=str(T0 + 25), service="api")] == [4, 3]
    first = (await client.get("/api/v1/audit", params={"limit": 4})).json()
    assert [r["id"] for r in first["records"]] == [6, 5, 4, 3] and first["next_before_id"] == 3
    rest = (await client.get("/api/v1/audit", params={"limit": 4, "before_id": 3})).json()
    assert [r["id"] for r in rest["records"]] == [2, 1] and rest["next_before_id"] is None
    for bad in ({"since": "yesterday-ish"}, {"since": str(T0 + 50), "until": str(T0)}, {"limit": 0},
                {"q": "x" * 500}):
        r = await client.get("/api/v1/audit", params=bad)
        assert r.status_code in (400, 422), (bad, r.text)


async def test_the_kill_switch_over_the_api_is_saved_audited_and_shown_in_metrics(vigil: Any) -> None:
    clock, engine, client = vigil
    assert (await client.get("/api/v1/automation")).json()["paused"] is False
    for bad in ({"paused": "yes"}, {"reason": "x"}, {"paused": True, "reason": 5}, {"paused": True, "extra": 1}, []):
        r = await client.post("/api/v1/automation", json=bad)
        assert r.status_code == 400, (bad, r.text)
    assert engine.automation.is_paused() is False and await records(client) == []
    r = await client.post("/api/v1/automation", json={"paused": True, "reason": "db migration"})
    assert r.status_code == 200, r.text
    assert r.json() == {"paused": True, "by": "key:bob", "at": T0, "reason": "db migration"}
    assert engine.automation.is_paused()
    assert "vigil_automation_paused 1.0" in (await client.get("/metrics")).text
    [rec] = await records(client, action="automation.pause")
    assert rec["actor"] == "key:bob" and rec["reason"] == "db migration"
    assert rec["result"]["before"]["paused"] is False and rec["result"]["after"]["paused"] is True
    await clock.advance(60)
    await client.post("/api/v1/automation", json={"paused": False})
    assert (await client.get("/api/v1/automation")).json()["paused"] is False
    assert "vigil_automation_paused 0.0" in (await client.get("/metrics")).text
    assert [r["action"] for r in await records(client)] == ["automation.resume", "automation.pause"]


async def test_breakers_of_the_outbox_show_in_the_api_and_metrics(vigil: Any) -> None:
    _, _, client = vigil
    found = (await client.get("/api/v1/breakers")).json()["breakers"]
    assert [b["endpoint"] for b in found] == ["oncall/webhook[0]"] and found[0]["state"] == "closed"
    assert 'vigil_breaker_state{endpoint="oncall/webhook[0]"} 0.0' in (await client.get("/metrics")).text
