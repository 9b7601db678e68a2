"""Silences, Alertmanager-compatible reads and notification delivery state over the API, through the
real engine and store on a fake clock: a silence mutes a page and is recorded with who made it;
expiring it lets the page out; amtool's endpoints answer in Alertmanager's shapes; dead letters are
listed and re-queued."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engine.test_notify_timeline import CFG, T0, alert
from vigil.app import build_app
from vigil.config import parse_config
from vigil.pipeline import AlertsIn
from vigil.testing import FakeClock, FakeNotifier, InlineWriter

KEY = "silences-api-test-key"
WITH_KEY = CFG.replace("services:", f"server: {{{{api_keys: [{{{{name: bob, key: {KEY}}}}}]}}}}\nservices:", 1)


def iso(t: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
async def vigil(tmp_path: Path) -> Any:
    clock = FakeClock(T0)
    pager = FakeNotifier()
    app, engine = build_app(parse_config(WITH_KEY.format(db=tmp_path / "v.db"), env={}), clock=clock,
                            collectors=[], writer=InlineWriter(), worker=InlineWriter(), notifiers={"oncall": [pager]})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil.test",
                                 headers={"Authorization": f"Bearer {KEY}"}) as client:
        await engine.start()
        try:
            yield clock, engine, pager, client
        finally:
            await engine.stop()
            engine.store.close()


async def test_a_silence_mutes_the_page_until_it_is_expired(vigil: Any) -> None:
    clock, engine, pager, client = vigil
    r = await client.post("/api/v1/silences", json={"matchers": '{service="payments"}', "ends_at": T0 + 3600,
                                                    "comment": "failover drill"})
    assert r.status_code == 200, r.text
    silence = r.json()
    assert silence["state"] == "active" and silence["created_by"] == "bob"
    assert silence["matchers"] == '{service="payments"}'
    await engine.submit_alerts(AlertsIn([alert("PaymentsDown", "payments", T0)]))
    await clock.advance(60)
    assert pager.delivered == []
    [muted] = (await client.get("/api/v2/alerts")).json()
    assert muted["status"] == {"state": "suppressed", "silencedBy": [silence["id"]], "inhibitedBy": []}
    assert muted["receivers"] == [{"name": "oncall"}]
    assert (await client.get("/api/v2/alerts", params={"silenced": "false"})).json() == []

    assert (await client.delete(f"/api/v1/silences/{silence['id']}")).json()["state"] == "expired"
    await clock.advance(5 * 60 + 1)  # the group's next flush
    assert [a.labels["alertname"] for a in pager.delivered[0].alerts] == ["PaymentsDown"]
    lines = [e.message for e in engine.store.events(kind="silence")]
    assert lines[0].startswith(f"silence {silence['id']} created by bob: ")
    assert f"silence {silence['id']} expired by bob" in lines


async def test_silences_refuse_what_would_last_forever_or_is_malformed(vigil: Any) -> None:
    _, _, _, client = vigil
    forever = await client.post("/api/v1/silences", json={"matchers": '{a="b"}', "ends_at": None, "comment": "x"})
    assert forever.status_code == 400 and "no silence lasts forever" in forever.text
    bad = await client.post("/api/v1/silences", json={"matchers": "{a=~\"(\"}", "ends_at": T0 + 60, "comment": "x"})
    assert bad.status_code == 400
    assert (await client.delete("/api/v1/silences/nope")).status_code == 404
    assert (await client.get("/api/v1/silences")).json() == {"silences": []}


async def test_amtool_shapes(vigil: Any) -> None:
    clock, _, _, client = vigil
    body = {"matchers": [{"name": "service", "value": "payments", "isRegex": False, "isEqual": True}],
            "startsAt": iso(T0), "endsAt": iso(T0 + 600), "createdBy": "amtool", "comment": "maintenance"}
    r = await client.post("/api/v2/silences", json=body)
    assert r.status_code == 200
    sid = r.json()["silenceID"]
    [s] = (await client.get("/api/v2/silences")).json()
    assert s["id"] == sid and s["matchers"] == body["matchers"] and s["status"] == {"state": "active"}
    assert s["createdBy"] == "amtool" and s["endsAt"] == iso(T0 + 600).replace("Z", ".000Z")
    assert (await client.get(f"/api/v2/silence/{sid}")).json()["comment"] == "maintenance"
    # updating a silence (with its id) replaces it: the old one expires
    r = await client.post("/api/v2/silences", json={**body, "id": sid, "comment": "longer"})
    assert r.json()["silenceID"] != sid
    states = sorted(x["status"]["state"] for x in (await client.get("/api/v2/silences")).json())
    assert states == ["active", "expired"]
    assert (await client.get("/api/v2/status")).json()["cluster"]["status"] == "disabled"


async def test_dead_letters_are_listed_and_requeued(vigil: Any) -> None:
    clock, engine, pager, client = vigil
    pager.fail(retryable=False, times=1)
    await engine.submit_alerts(AlertsIn([alert("PaymentsDown", "payments", T0)]))
    await clock.advance(31)
    [dead] = (await client.get("/api/v1/notifications", params={"state": "dead"})).json()["notifications"]
    assert dead["receiver"] == "oncall" and dead["integration"] == "webhook[0]" and dead["status"] == "firing"
    endpoints = (await client.get("/api/v1/notifications/endpoints")).json()
    assert endpoints["breakers"][0]["state"] == "closed"
    r = await client.post("/api/v1/notifications/requeue", json={"ids": [dead["id"]]})
    assert r.json() == {"requeued": [dead["id"]], "refused": {}}
    await clock.advance(2)
    assert len(pager.delivered) == 1
    again = await client.post("/api/v1/notifications/requeue", json={"ids": [dead["id"]]})
    assert again.json()["requeued"] == [] and str(dead["id"]) in again.json()["refused"]
    assert (await client.get("/api/v1/notifications", params={"state": "lost"})).status_code == 400
