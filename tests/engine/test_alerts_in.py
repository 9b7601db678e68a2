"""Alerts from outside, through the real API, engine and SQLite store on a fake clock: Alertmanager's
API (what Prometheus sends), its webhook, PagerDuty Events v2 and the generic shape; retried
deliveries change nothing; senders get the answers they expect."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
import pytest

from vigil.app import build_app
from vigil.config import parse_config
from vigil.model import fingerprint
from vigil.store import open_store
from vigil.testing import FakeClock, InlineWriter

T0 = 1_700_000_000.0
KEY = "alerts-in-test-key"
CFG = """
server: {api_keys: [{name: t, key: alerts-in-test-key}]}
services: [{name: payments}]
"""


def iso(t: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")


class FailingAlertWrites:
    """The real store, but the next `failures` writes of alerts fail (a database restart)."""

    def __init__(self, inner: Any, failures: int = 0) -> None:
        self.inner, self.failures = inner, failures

    def write_alerts(self, items: Any, now: float) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("database is restarting")
        self.inner.write_alerts(items, now)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
async def vigil(tmp_path: Path) -> Any:
    clock = FakeClock(T0)
    store = FailingAlertWrites(open_store(f"sqlite:///{tmp_path / 'v.db'}"))
    app, engine = build_app(parse_config(CFG, env={}), store=store, clock=clock, collectors=[],
                            writer=InlineWriter(), worker=InlineWriter())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil.test",
                                 headers={"Authorization": f"Bearer {KEY}"}) as client:
        await engine.start()
        try:
            yield clock, engine, client, store
        finally:
            await engine.stop()
            store.inner.close()


def alert_lines(engine: Any) -> list[tuple[str, str]]:
    return [(e.data["status"], e.data["alertname"]) for e in engine.store.events(kind="alert")]


async def listed(client: httpx.AsyncClient, state: str = "all") -> list[dict[str, Any]]:
    return (await client.get("/api/v1/alerts", params={"state": state})).json()["alerts"]


async def test_prometheus_style_alerts_fire_refresh_and_time_out(vigil: Any) -> None:
    clock, engine, client, _ = vigil
    labels = {"alertname": "HighLatency", "service": "payments", "severity": "critical", "job": "api"}
    body = [{"labels": labels, "annotations": {"summary": "p99 above 1s"}, "startsAt": iso(T0 - 30),
             "generatorURL": "http://prometheus:9090/graph?g0.expr=x"},
            {"labels": {"bad-name": "x"}, "annotations": {}}]
    r = await client.post("/api/v2/alerts", json=body)
    assert r.status_code == 400  # the bad one is named and left out; the good one is taken
    assert r.json()["detail"]["errors"] == [{"index": 1, "error": "labels: invalid label name 'bad-name': use "
                                             "letters, digits and '_', not starting with a digit"}]
    [a] = await listed(client, "firing")
    assert a["fingerprint"] == fingerprint(labels) and a["starts_at"] == T0 - 30
    assert a["labels"] == labels and a["source"] == "ingest:alertmanager-api"

    for _ in range(4):  # Prometheus re-sends every minute while it fires: no change, no new event
        await clock.advance(60)
        assert (await client.post("/api/v2/alerts", json=body[:1])).status_code == 200
    assert alert_lines(engine) == [("firing", "HighLatency")]
    await clock.advance(299)  # resolve_timeout (5 min) after the last time it was sent
    assert (await listed(client, "firing")) != []
    await clock.advance(2)
    [a] = await listed(client, "resolved")
    assert a["ends_at"] == T0 + 240 + 300 and "resolve_timeout" in a["annotations"]["resolution"]
    assert alert_lines(engine) == [("firing", "HighLatency"), ("resolved", "HighLatency")]


async def test_an_alert_sent_with_a_past_end_is_resolved(vigil: Any) -> None:
    clock, engine, client, _ = vigil
    labels = {"alertname": "DiskFull", "service": "payments"}
    assert (await client.post("/api/v2/alerts", json=[{"labels": labels, "endsAt": iso(T0 + 600)}])).status_code == 200
    await clock.advance(10)
    assert (await client.post("/api/v2/alerts", json=[{"labels": labels, "endsAt": iso(T0 + 5)}])).status_code == 200
    [a] = await listed(client)
    assert a["status"] == "resolved" and a["ends_at"] == T0 + 5 and a["severity"] == "warning"  # no label: warning


async def test_alertmanager_webhook_is_idempotent_and_records_truncation(vigil: Any) -> None:
    clock, engine, client, _ = vigil
    labels = {"alertname": "PaymentsDown", "service": "payments", "severity": "critical"}
    payload = {"version": "4", "groupKey": '{}:{alertname="PaymentsDown"}', "truncatedAlerts": 2,
               "status": "firing", "receiver": "vigil", "groupLabels": {"alertname": "PaymentsDown"},
               "commonLabels": labels, "commonAnnotations": {}, "externalURL": "http://am:9093",
               "alerts": [{"status": "firing", "labels": labels, "annotations": {"summary": "down"},
                           "startsAt": iso(T0), "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
                           "fingerprint": fingerprint(labels)}]}
    for _ in range(3):  # an Alertmanager repeats a group; a retried delivery changes nothing
        r = await client.post("/api/v1/alerts/webhook", json=payload)
        assert r.status_code == 200 and r.json() == {"taken": 1}
    await clock.advance(3600)  # no timeout: the sender repeats only every repeat_interval
    assert [a["status"] for a in await listed(client)] == ["firing"]
    resolved = {**payload, "status": "resolved", "truncatedAlerts": 0,
                "alerts": [{**payload["alerts"][0], "status": "resolved", "endsAt": iso(T0 + 3600)}]}
    assert (await client.post("/api/v1/alerts/webhook", json=resolved)).status_code == 200
    assert alert_lines(engine) == [("firing", "PaymentsDown"), ("resolved", "PaymentsDown")]
    [truncated] = [e for e in engine.store.events(kind="ingest")][:1]
    assert "left out 2 alert(s)" in truncated.message and truncated.data["truncated_alerts"] == 2

    wrong = {**payload, "alerts": [{**payload["alerts"][0], "fingerprint": "0000000000000000"}]}
    r = await client.post("/api/v1/alerts/webhook", json=wrong)
    assert r.status_code == 400 and "does not match its labels" in r.text
    r = await client.post("/api/v1/alerts/webhook", json={**payload, "version": "3"})
    assert r.status_code == 400 and 'version must be' in r.json()["detail"]["error"]
    assert len(await listed(client)) == 1  # the refused ones changed nothing


async def test_pagerduty_events_trigger_acknowledge_resolve(vigil: Any) -> None:
    clock, engine, client, _ = vigil
    trigger = {"routing_key": "k", "event_action": "trigger", "dedup_key": "pay-42",
               "payload": {"summary": "payments 5xx", "source": "lb-1", "component": "payments",
                           "severity": "error"}}
    r = await client.post("/v2/enqueue", json=trigger)
    assert r.status_code == 202 and r.json() == {"status": "success", "message": "Event processed",
                                                 "dedup_key": "pay-42"}
    [a] = await listed(client, "firing")
    assert a["labels"] == {"alertname": "PagerDutyEvent", "dedup_key": "pay-42", "service": "payments",
                           "severity": "critical"}
    assert (await client.post("/api/v1/alerts/pagerduty", json=trigger)).status_code == 202  # the same again
    ack = {"routing_key": "k", "event_action": "acknowledge", "dedup_key": "pay-42"}
    assert (await client.post("/api/v1/alerts/pagerduty", json=ack)).status_code == 202
    await clock.advance(30)
    resolve = {"routing_key": "k", "event_action": "resolve", "dedup_key": "pay-42"}
    assert (await client.post("/api/v1/alerts/pagerduty", json=resolve)).status_code == 202
    [a] = await listed(client)
    assert a["status"] == "resolved" and a["ends_at"] == T0 + 30
    assert alert_lines(engine) == [("firing", "PagerDutyEvent"), ("resolved", "PagerDutyEvent")]
    assert any("acknowledged through PagerDuty" in e.message for e in engine.store.events(kind="ingest"))
    bad = await client.post("/v2/enqueue", json={"event_action": "page"})
    assert bad.status_code == 400 and bad.json()["status"] == "invalid event"
    missing = await client.post("/v2/enqueue", json={"event_action": "trigger", "payload": {"summary": "x"}})
    assert [e["field"] for e in missing.json()["errors"]] == ["payload.source", "payload.severity"]


async def test_generic_alerts_are_refused_whole(vigil: Any) -> None:
    clock, engine, client, _ = vigil
    good = {"name": "QueueStuck", "service": "payments", "severity": "critical", "summary": "no progress"}
    r = await client.post("/api/v1/alerts", json={"alerts": [good, {"name": "x", "severity": "loud"}]})
    assert r.status_code == 400
    assert [e["index"] for e in r.json()["detail"]["errors"]] == [1]
    assert await listed(client) == []
    r = await client.post("/api/v1/alerts", json={"alerts": [good]})
    assert r.status_code == 200 and r.json() == {"taken": 1}
    r = await client.post("/api/v1/alerts", json={"alerts": [{**good, "status": "resolved"}]})
    [a] = await listed(client)
    assert a["status"] == "resolved" and a["annotations"]["summary"] == "no progress"


async def test_a_store_failure_answers_503_and_the_retry_is_taken(vigil: Any) -> None:
    clock, engine, client, store = vigil
    body = [{"labels": {"alertname": "X", "service": "payments"}}]
    store.failures = 1
    r = await client.post("/api/v2/alerts", json=body)
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert (await client.post("/api/v2/alerts", json=body)).status_code == 200  # the sender retries
    assert [a["status"] for a in await listed(client)] == ["firing"]


async def test_ingest_needs_a_key(vigil: Any) -> None:
    _, _, client, _ = vigil
    for path in ("/api/v2/alerts", "/api/v1/alerts/webhook", "/api/v1/alerts/pagerduty", "/v2/enqueue",
                 "/api/v1/alerts"):
        r = await client.post(path, json=[], headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401, path


async def test_times_past_the_year_5138_are_refused_and_nothing_is_taken(vigil: Any) -> None:
    """Found by the fuzzer: an alert starting at 1e20 s was taken, then `GET /api/v2/alerts` failed
    formatting it. A time that far out is milliseconds (or worse) sent as seconds: refused, naming it."""
    clock, engine, client, _ = vigil
    r = await client.post("/api/v1/alerts", json={"alerts": [
        {"name": "Far", "service": "payments", "severity": "critical", "starts_at": 1e20}]})
    assert r.status_code == 400 and "after the year 5138" in r.text, r.text
    r = await client.post("/api/v2/alerts", json=[{"labels": {"alertname": "Far"}, "startsAt": 1.7e12}])
    assert r.status_code == 400 and "after the year 5138" in r.text, r.text
    assert await listed(client) == []
    assert (await client.get("/api/v2/alerts")).status_code == 200


def test_a_time_the_platform_cannot_show_is_null_not_a_failure() -> None:
    from vigil.web.silences import _iso

    assert _iso(1e300) is None and _iso(0.5) == "1970-01-01T00:00:00.500Z"
