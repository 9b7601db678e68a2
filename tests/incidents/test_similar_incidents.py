"""Memory: past incidents like this one, by overlap of services and alert names, weighted by recency;
read from a real SQLite store (only incidents about the same services) and served with the incident."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from vigil.app import build_app
from vigil.config import parse_config
from vigil.incidents.model import Incident, IncidentStatus, Member, TimelineEntry
from vigil.incidents.similar import find, jaccard, likeness, rank
from vigil.model import Severity
from vigil.store import open_store
from vigil.testing import FakeClock, InlineWriter

T0 = 1_700_000_000.0
DAY = 86400.0
KEY = "similar-test-key-0001"


def inc(
    id_: int, opened: float, service: str, alerts: dict[str, str], resolved: float | None = None
) -> Incident:
    i = Incident(
        id_,
        f"{service}: {next(iter(alerts))}",
        IncidentStatus.RESOLVED if resolved else IncidentStatus.OPEN,
        Severity.CRITICAL,
        service,
        opened,
        opened,
        list(dict.fromkeys(alerts.values())),
        resolved_at=resolved,
    )
    i.members = {
        f"{id_}-{n}": Member(id_, f"{id_}-{n}", n, s, "critical", opened, "new") for n, s in alerts.items()
    }
    return i


def test_likeness_is_half_services_half_alert_names() -> None:
    assert jaccard([], []) == 0.0 and jaccard(["a", "b"], ["b", "c"]) == 1 / 3
    now = inc(9, T0, "payments", {"PaymentsDown": "payments", "StorefrontErrors": "storefront"})
    same = inc(1, T0 - DAY, "payments", {"PaymentsDown": "payments", "StorefrontErrors": "storefront"})
    half = inc(2, T0 - DAY, "payments", {"PaymentsDown": "payments"})
    assert likeness(now, same) == 1.0
    assert likeness(now, half) == 0.5 * 0.5 + 0.5 * 0.5


def test_recent_beats_old_at_equal_likeness_and_unlike_ones_are_left_out() -> None:
    now = inc(9, T0, "payments", {"PaymentsDown": "payments"})
    old = inc(1, T0 - 90 * DAY, "payments", {"PaymentsDown": "payments"}, T0 - 90 * DAY + 600)
    recent = inc(2, T0 - 3 * DAY, "payments", {"PaymentsDown": "payments"}, T0 - 3 * DAY + 840)
    other = inc(
        3, T0 - DAY, "payments", {"DiskFull": "payments", "Backups": "backup"}
    )  # 1/2 services, 0 names
    later = inc(10, T0 + 60, "payments", {"PaymentsDown": "payments"})  # opened after: not "past"
    found = rank(now, [old, recent, other, later, now])
    assert [m.id for m in found] == [2, 1]
    assert found[0].score > found[1].score and found[0].likeness == found[1].likeness == 1.0
    assert abs(found[1].score - 0.5**3) < 1e-9  # 90 days: three half-lives


def test_find_reads_incidents_of_the_same_services_and_how_the_best_one_ended(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        past = inc(1, T0 - 2 * DAY, "payments", {"PaymentsDown": "payments"}, T0 - 2 * DAY + 840)
        elsewhere = inc(2, T0 - DAY, "mailer", {"PaymentsDown": "mailer"}, T0 - DAY + 60)
        now = inc(3, T0, "payments", {"PaymentsDown": "payments"})
        members = [m for i in (past, elsewhere, now) for m in i.members.values()]
        store.write_incidents(
            [past, elsewhere, now],
            members,
            [
                TimelineEntry(1, T0 - 2 * DAY + 300, "note", "the pool is exhausted", "bob"),
                TimelineEntry(
                    1, T0 - 2 * DAY + 840, "resolved", "resolved: by carol: restarted the DB pool", "carol"
                ),
            ],
        )
        found = find(store, now)
        assert [m.id for m in found] == [1]  # mailer's incident is not about one of its services
        assert found[0].resolution == "by carol: restarted the DB pool"
    finally:
        store.close()


async def test_the_incident_api_serves_similar_past_incidents(tmp_path: Path) -> None:
    cfg = parse_config(
        f"""
store: {{url: "sqlite:///{tmp_path / "v.db"}"}}
server: {{api_keys: [{{name: alice, key: {KEY}}}]}}
services: [{{name: payments}}]
""",
        env={},
    )
    clock = FakeClock(T0)
    app, engine = build_app(cfg, clock=clock, collectors=[], writer=InlineWriter(), worker=InlineWriter())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://vigil.test",
        headers={"Authorization": f"Bearer {KEY}"},
    ) as client:
        await engine.start()
        try:

            async def alert(status: str) -> None:
                r = await client.post(
                    "/api/v1/alerts",
                    json={
                        "alerts": [
                            {
                                "name": "PaymentsDown",
                                "service": "payments",
                                "severity": "critical",
                                "status": status,
                            }
                        ]
                    },
                )
                assert r.status_code == 200

            await alert("firing")
            await clock.advance(840)
            await alert("resolved")
            clock.set(clock.now() + 3 * DAY)  # long past the reopen window: the next one is a new incident
            await clock.advance(2)
            await alert("firing")
            await clock.advance(2)
            one: dict[str, Any] = (await client.get("/api/v1/incidents/2")).json()
            assert [(m["id"], m["likeness"], m["resolved_at"] - m["opened_at"]) for m in one["similar"]] == [
                (1, 1.0, 840.0)
            ]
            assert (
                "Looks like #1 from 3 days ago (payments: PaymentsDown), resolved in 14m." in one["summary"]
            )
            assert (await client.get("/api/v1/incidents/1")).json()["similar"] == []
        finally:
            await engine.stop()
            engine.store.close()
