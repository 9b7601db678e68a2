"""Recovery that must hold, flapping alerts, and severity weighed by service impact, as timelines on
a fake clock through the real engine, API and SQLite store (issue 11, items 3 and 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engine.test_incidents_stage import T0, build, fire, incidents, running
from vigil.incidents.flapping import FlapTracker
from vigil.incidents.model import weighted
from vigil.model import Alert, AlertStatus, Severity, severity_of
from vigil.testing import FakeClock

CFG = """
store: {{url: "sqlite:///{db}"}}
server: {{api_keys: [{{name: alice, key: {key}}}]}}
incidents: {{correlation_window: 10m, reopen_window: 30m, resolve_after: 2m,
             flapping: {{window: 10m, changes: 4}}}}
services:
  - {{name: storefront, depends_on: [payments], impact: 2}}
  - {{name: payments}}
  - {{name: batch, impact: 0.5}}
"""


@pytest.fixture
async def vigil(tmp_path: Path) -> Any:
    clock = FakeClock(T0)
    app, engine = build(tmp_path, clock, CFG)
    async with running(app, engine) as client:
        yield clock, engine, client, tmp_path


async def kinds(client: httpx.AsyncClient, inc_id: int) -> list[str]:
    return [e["kind"] for e in (await client.get(f"/api/v1/incidents/{inc_id}")).json()["timeline"]]


async def test_an_incident_resolves_only_once_its_recovery_held(vigil: Any) -> None:
    clock, engine, client, _ = vigil
    await fire(client, "PaymentsDown", "payments")
    await clock.advance(30)
    await fire(client, "PaymentsDown", "payments", "resolved")
    [inc] = await incidents(client)
    assert inc["status"] == "open"  # recovering, not resolved yet
    await clock.advance(119)  # ticks run passes with nothing arriving
    [inc] = await incidents(client)
    assert inc["status"] == "open"
    await clock.advance(2)
    [inc] = await incidents(client)
    assert inc["status"] == "resolved" and inc["resolved_by"] is None
    assert T0 + 150 <= inc["resolved_at"] <= T0 + 152
    assert (await kinds(client, inc["id"]))[-3:] == ["alert_resolved", "recovering", "resolved"]


async def test_an_alert_back_before_the_hold_keeps_the_incident_open(vigil: Any) -> None:
    clock, engine, client, _ = vigil
    await fire(client, "PaymentsDown", "payments")
    await fire(client, "PaymentsDown", "payments", "resolved")
    await clock.advance(60)
    await fire(client, "PaymentsDown", "payments")  # the recovery did not hold
    await clock.advance(300)
    [inc] = await incidents(client)
    assert inc["status"] == "open" and inc["reopened"] == 0
    assert "recovery_broken" in await kinds(client, inc["id"])


async def test_a_flapping_alert_holds_its_incident_open_until_it_goes_quiet(vigil: Any) -> None:
    clock, engine, client, _ = vigil
    await fire(client, "PaymentsDown", "payments")
    for _ in range(2):  # resolved, fired, resolved, fired: four state changes within 10 minutes
        await clock.advance(30)
        await fire(client, "PaymentsDown", "payments", "resolved")
        await clock.advance(30)
        await fire(client, "PaymentsDown", "payments")
    [inc] = await incidents(client)
    timeline = await kinds(client, inc["id"])
    assert timeline.count("flapping") == 1
    decisions = engine.store.decisions(kind="incident", subject=str(inc["id"]))
    assert [d.rule for d in decisions if d.rule == "flapping"] == ["flapping"]
    await clock.advance(10)
    await fire(client, "PaymentsDown", "payments", "resolved")
    await clock.advance(300)  # past resolve_after (2m) but not quiet for the flapping window (10m)
    [inc] = await incidents(client)
    assert inc["status"] == "open"
    await clock.advance(310)
    [inc] = await incidents(client)
    assert inc["status"] == "resolved"
    assert "flapping_stopped" in await kinds(client, inc["id"])


async def test_a_restart_while_recovering_still_resolves_after_the_hold(vigil: Any) -> None:
    clock, engine, client, tmp_path = vigil
    await fire(client, "PaymentsDown", "payments")
    await fire(client, "PaymentsDown", "payments", "resolved")
    await clock.advance(60)
    await engine.stop()
    engine.store.close()
    app, engine2 = build(tmp_path, clock, CFG)
    async with running(app, engine2) as c2:
        [inc] = await incidents(c2)
        assert inc["status"] == "open"
        await clock.advance(61)
        [inc] = await incidents(c2)
        assert inc["status"] == "resolved"
    await engine.start()  # the fixture stops what it started


async def test_severity_is_weighed_by_the_service_impact(vigil: Any) -> None:
    clock, engine, client, _ = vigil
    await fire(client, "StorefrontSlow", "storefront", severity="warning")  # impact 2: high
    await fire(client, "BatchLate", "batch", severity="critical")  # impact 0.5: high
    found = {i["service"]: i for i in await incidents(client)}
    assert found["storefront"]["severity"] == "high"
    assert found["batch"]["severity"] == "high"


def test_severity_words_from_other_tools() -> None:
    assert [severity_of(w) for w in ("P1", "error", "Major", "warn", "low", "bogus", None)] == [
        Severity.CRITICAL, Severity.HIGH, Severity.HIGH, Severity.WARNING, Severity.INFO, Severity.WARNING,
        Severity.WARNING]
    assert Alert({"alertname": "x", "severity": "SEV2"}, AlertStatus.FIRING, T0).severity is Severity.HIGH
    assert weighted("info", 16) is Severity.CRITICAL and weighted("critical", 0.1) is Severity.INFO
    assert weighted("high", 1.0) is Severity.HIGH


def test_flap_tracker_counts_changes_in_a_sliding_window() -> None:
    flaps = FlapTracker(window=60, changes=3)
    assert not flaps.changed("a", 0) and not flaps.changed("a", 50)
    assert not flaps.changed("a", 70)  # the change at 0 left the window
    assert flaps.changed("a", 80) and "a" in flaps.flapping
    assert not flaps.changed("a", 90)  # already flapping: reported once
    assert flaps.settle(149) == [] and flaps.settle(150) == ["a"] and not flaps.flapping
