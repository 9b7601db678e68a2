"""The offline summary, from evidence built by hand (each point it makes, and each it leaves out when
there is nothing to say), and through the real engine on a fake clock: written beside the pass, taken
in by a later one, debounced per incident, refreshed when scaling happened since."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from vigil.app import build_app
from vigil.config import parse_config
from vigil.incidents.facts import Facts, VersionChange, version_changes
from vigil.incidents.model import Incident, IncidentStatus, Member, TimelineEntry
from vigil.incidents.similar import Match
from vigil.incidents.summary import compose
from vigil.model import Decision, Event, SeriesKey, Severity
from vigil.store.series import SeriesInfo
from vigil.testing import FakeClock, InlineWriter

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
KEY = "summary-test-key-0001"


def incident(**kw: Any) -> Incident:
    inc = Incident(
        7,
        "payments: PaymentsDown and 1 more alert on storefront",
        IncidentStatus.OPEN,
        Severity.CRITICAL,
        "payments",
        T0,
        T0 + 30,
        ["payments", "storefront"],
    )
    inc.members = {
        "a": Member(
            7,
            "a",
            "PaymentsDown",
            "payments",
            "critical",
            T0,
            "new",
            True,
            T0,
            "PaymentsDown on payments: payments/http failed 3 times: connection refused",
        ),
        "b": Member(
            7,
            "b",
            "StorefrontErrors",
            "storefront",
            "warning",
            T0 + 30,
            "payments - storefront",
            True,
            T0 + 30,
            "error ratio 12% above 5% for 2m",
        ),
    }
    for k, v in kw.items():
        setattr(inc, k, v)
    return inc


def test_an_open_incident_says_what_since_when_and_the_ranked_cause() -> None:
    inc = incident(
        root_causes=[
            {"service": "payments", "score": 0.82, "why": "error rate rose 3 min before storefront's"},
            {"service": "catalog", "score": 0.31, "why": "latency"},
        ]
    )
    text = compose(Facts(inc, T0 + 60, 1800.0))
    lines = text.splitlines()
    assert lines[0] == (
        "PaymentsDown on payments (critical, firing): payments/http failed 3 times: connection "
        "refused. Also: StorefrontErrors on storefront (warning, firing)."
    )
    assert lines[1] == "Since 2023-11-14 22:13:20 UTC; open, 2 of 2 alerts firing."
    assert lines[2] == (
        "Probable root cause: payments (score 0.82): error rate rose 3 min before storefront's. "
        "Next: catalog (score 0.31)."
    )
    assert lines[3].startswith("Nothing recorded as changed in the 30m before it opened")
    assert len(lines) == 4  # nothing done, no people, no memory: no line for them


def test_without_a_ranking_a_multi_service_incident_names_the_service_the_others_depend_on() -> None:
    text = compose(Facts(incident(), T0 + 60, 1800.0))
    assert "Probable root cause: not ranked yet; payments is the service the others depend on." in text
    single = incident(services=["payments"])
    del single.members["b"]
    assert "root cause" not in compose(Facts(single, T0 + 60, 1800.0))


def test_what_vigil_and_people_did_and_what_changed_before() -> None:
    inc = incident(status=IncidentStatus.RESOLVED, resolved_at=T0 + 860, resolved_by="alice")
    ev = Facts(inc, T0 + 900, 1800.0)
    ev.timeline = [
        TimelineEntry(7, T0 + 40, "notified", "firing notification delivered to oncall/email[0]"),
        TimelineEntry(7, T0 + 340, "notified", "firing notification delivered to oncall/email[0]"),
        TimelineEntry(7, T0 + 100, "note", "checking the payments DB", "bob"),
        TimelineEntry(7, T0 + 860, "resolved", "resolved: by alice: rolled back 1.4.2", "alice"),
    ]
    ev.decisions = [
        Decision(
            T0 - 600, "scale", "payments", "ScaleDown", {"current_replicas": 4}, {"replicas": 2, "act": True}
        ),
        Decision(
            T0 + 120, "scale", "payments", "ScaleUp", {"current_replicas": 2}, {"replicas": 5, "act": True}
        ),
        Decision(
            T0 + 180,
            "scale",
            "payments",
            "DesiredWithinRange",
            {"current_replicas": 5},
            {"replicas": 5, "act": False},
        ),  # kept as it was: not an action
    ]
    ev.events = [
        Event(T0 - 300, "config", None, "configuration reloaded (SIGHUP)"),
        Event(
            T0 - 20,
            "health",
            "payments",
            "payments/http healthy -> unhealthy: connection refused",
            {"after": "unhealthy"},
        ),
    ]
    ev.versions = [VersionChange("payments", "version", "1.4.1", "1.4.2", T0 - 480)]
    text = compose(ev)
    assert (
        "From 2023-11-14 22:13:20 UTC to 22:27:40 UTC (14m 20s); resolved by alice (rolled back 1.4.2). "
        "First sign at 22:13:00 UTC: payments/http healthy -> unhealthy: connection refused."
    ) in text
    assert (
        "vigil did: firing notification delivered to oncall/email[0] at 22:14:00 UTC (×2); scaled payments "
        "2 → 5 replicas (ScaleUp) at 22:15:20 UTC."
    ) in text
    assert 'People: bob noted at 22:15:00 UTC: "checking the payments DB".' in text
    assert (
        "Changed before it opened: scaled payments 4 → 2 replicas (ScaleDown) at 22:03:20 UTC (10m before); "
        "payments version 1.4.1 → 1.4.2 at 22:05:20 UTC (8m before); configuration reloaded (SIGHUP) at "
        "22:08:20 UTC (5m before)."
    ) in text
    assert "DesiredWithinRange" not in text and "Nothing recorded" not in text


def test_the_similar_past_incident_says_when_and_how_it_ended() -> None:
    ev = Facts(incident(), T0 + 60, 0.0)
    ev.similar = [
        Match(
            3,
            "payments: PaymentsDown",
            "payments",
            ("payments",),
            ("PaymentsDown",),
            T0 - 3 * 86400,
            T0 - 3 * 86400 + 840,
            "resolved",
            0.75,
            0.7,
            "by carol: restarted the DB pool",
        ),
        Match(
            1,
            "payments: PaymentsSlow",
            "payments",
            ("payments",),
            ("PaymentsSlow",),
            T0 - 9 * 86400,
            None,
            "open",
            0.5,
            0.4,
        ),
    ]
    text = compose(ev)
    assert text.splitlines()[-1] == (
        "Looks like #3 from 3 days ago (payments: PaymentsDown), resolved in 14m; by "
        "carol: restarted the DB pool. Also like #1."
    )
    assert "Nothing recorded" not in text  # no look-back window, no claim about it


def test_a_version_label_first_seen_in_the_window_is_a_deploy() -> None:
    def info(version: str, first: float) -> SeriesInfo:
        return SeriesInfo(
            SeriesKey.of("http_requests_total", {"service": "payments", "version": version}),
            first,
            first + 10,
        )

    found = version_changes(
        [info("1.4.1", T0 - 86400), info("1.4.2", T0 - 480), info("1.4.2", T0 - 400)],
        "payments",
        T0 - 1800,
        T0,
    )
    assert found == [VersionChange("payments", "version", "1.4.1", "1.4.2", T0 - 480)]
    assert version_changes([info("1.4.1", T0 - 86400)], "payments", T0 - 1800, T0) == []


# ------------------------------------------------------------------------------------------ the engine

CFG = """
store: {{url: "sqlite:///{db}"}}
server: {{api_keys: [{{name: alice, key: {key}}}]}}
incidents: {{summary: {{every: 30s, refresh: 5m}}}}
services:
  - {{name: storefront, depends_on: [payments]}}
  - {{name: payments}}
"""


@pytest.fixture
async def vigil(tmp_path: Path) -> Any:
    clock = FakeClock(T0)
    cfg = parse_config(CFG.format(db=tmp_path / "v.db", key=KEY), env={})
    app, engine = build_app(cfg, clock=clock, collectors=[], writer=InlineWriter(), worker=InlineWriter())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://vigil.test",
        headers={"Authorization": f"Bearer {KEY}"},
    ) as client:
        await engine.start()
        try:
            yield clock, engine, client
        finally:
            await engine.stop()
            engine.store.close()


async def fire(client: httpx.AsyncClient, name: str, service: str, status: str = "firing") -> None:
    r = await client.post(
        "/api/v1/alerts",
        json={
            "alerts": [
                {
                    "name": name,
                    "service": service,
                    "severity": "critical",
                    "status": status,
                    "summary": f"{name} now",
                }
            ]
        },
    )
    assert r.status_code == 200, r.text


async def summary(client: httpx.AsyncClient, inc: int = 1) -> str:
    return (await client.get(f"/api/v1/incidents/{inc}")).json()["summary"]


async def test_the_summary_is_written_beside_the_pass_and_taken_in_by_a_later_one(vigil: Any) -> None:
    clock, engine, client = vigil
    await fire(client, "PaymentsDown", "payments")
    assert await summary(client) == ""  # the pass that opened it did not wait for its summary
    await clock.advance(1)
    assert (await summary(client)).startswith("PaymentsDown on payments (critical): now.\nSince 2023-11-14")
    stage = engine.stages.incidents
    assert stage.summaries.written == 1


async def test_changes_are_summarised_at_most_every_so_often_per_incident(vigil: Any) -> None:
    clock, engine, client = vigil
    stage = engine.stages.incidents
    await fire(client, "PaymentsDown", "payments")
    await clock.advance(1)
    await fire(client, "StorefrontErrors", "storefront")  # joins 1 s after the first summary
    await clock.advance(10)
    assert "StorefrontErrors" not in await summary(client)  # debounced: `every` is 30 s
    assert stage.summaries.written == 1
    await clock.advance(25)
    assert "Also: StorefrontErrors on storefront (critical, firing)" in await summary(client)
    assert stage.summaries.written == 2
    await fire(client, "PaymentsDown", "payments", "resolved")
    await fire(client, "StorefrontErrors", "storefront", "resolved")
    await clock.advance(31)
    text = await summary(client)
    assert "From 2023-11-14 22:13:20 UTC to 22:13:56 UTC (36s); resolved when its alerts resolved." in text


async def test_an_open_incident_is_refreshed_with_what_vigil_did_since(vigil: Any) -> None:
    clock, engine, client = vigil
    stage = engine.stages.incidents
    await fire(client, "PaymentsDown", "payments")
    await clock.advance(1)
    assert "vigil did" not in await summary(client)
    await engine.writer.call(
        engine.store.write_decisions,
        [
            Decision(
                clock.now(),
                "scale",
                "payments",
                "ScaleUp",
                {"current_replicas": 2},
                {"replicas": 4, "act": True},
            )
        ],
    )
    await clock.advance(200)
    assert "vigil did" not in await summary(client)  # not changed, not yet due for a refresh
    unchanged = stage.summaries.written
    await clock.advance(110)
    assert "vigil did: scaled payments 2 → 4 replicas (ScaleUp) at 22:13:21 UTC." in await summary(client)
    assert stage.summaries.written == unchanged + 1


async def test_a_summary_lost_at_a_stop_is_written_again_after_the_restart(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    cfg = parse_config(CFG.format(db=tmp_path / "v.db", key=KEY), env={})

    async def run(steps: Any) -> None:
        app, engine = build_app(cfg, clock=clock, collectors=[], writer=InlineWriter(), worker=InlineWriter())
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://vigil.test",
            headers={"Authorization": f"Bearer {KEY}"},
        ) as client:
            await engine.start()
            try:
                await steps(client)
            finally:
                await engine.stop()
                engine.store.close()

    async def open_then_resolve_and_stop(client: httpx.AsyncClient) -> None:
        await fire(client, "PaymentsDown", "payments")
        await clock.advance(1)
        await fire(
            client, "PaymentsDown", "payments", "resolved"
        )  # its new summary is not taken in before the stop

    async def after_restart(client: httpx.AsyncClient) -> None:
        assert (await summary(client)).splitlines()[1] == "Since 2023-11-14 22:13:20 UTC; open."
        await clock.advance(2)  # the first pass starts its job, the next takes the summary in
        assert "resolved when its alerts resolved" in (await summary(client)).splitlines()[1]

    await run(open_then_resolve_and_stop)
    await run(after_restart)
