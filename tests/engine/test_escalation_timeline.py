"""Escalation through the whole loop on a fake clock: an unacknowledged incident pages its policy's
levels in turn (whoever is on call when each comes due), acknowledging stops it, resolving tells
those paged, a reopen starts again, repeats end at their limit, silences mute pages, and a restart
(graceful, or a crash between the outbox and the record) neither forgets a level nor pages twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from vigil.app import build_app
from vigil.audit.chain import first_break
from vigil.config import parse_config
from vigil.model import Alert, AlertStatus, Notice
from vigil.notify import render
from vigil.pipeline import AlertsIn
from vigil.testing import FakeClock, FakeNotifier, InlineWriter

T0 = 1_700_000_000.0  # Tuesday 2023-11-14 22:13:20 UTC: alice on call in primary, bob in secondary
KEY = "escalation-test-key"
RECEIVERS = ("team", "alice-pager", "bob-pager", "lead-pager")
CFG = """
store: {{url: "sqlite:///{db}"}}
engine: {{tick: 10s}}  # timers here are minutes: a pass every 10 s is precise enough and 10x cheaper
server: {{api_keys: [{{name: ops, key: {key}}}], external_url: "https://vigil.example.com"}}
services:
  - {{name: storefront, depends_on: [payments]}}
  - {{name: payments, escalation: payments}}
  - {{name: search, escalation: nagging}}
alerting:
  route: {{receiver: team, group_by: [incident], group_wait: 30s, group_interval: 5m, repeat_interval: 4h}}
  receivers:
{receivers}
oncall:
  users:
    - {{name: alice, receiver: alice-pager}}
    - {{name: bob, receiver: bob-pager}}
    - {{name: lead, receiver: lead-pager}}
  schedules:
    - name: primary
      layers: [{{rotation: weekly, start: 2023-11-13, handoff: "09:00", users: [alice, bob]}}]
    - name: secondary
      layers: [{{rotation: weekly, start: 2023-11-13, handoff: "09:00", users: [bob, alice]}}]
  escalation_policies:
    - name: payments
      levels:
        - {{after: 0s, notify: ["oncall:primary"]}}
        - {{after: 15m, notify: ["oncall:secondary"]}}
        - {{after: 30m, notify: [lead-pager]}}
    - name: nagging
      levels: [{{after: 5m, notify: ["user:lead"]}}]
      repeat_every: 10m
      max_repeats: 2
"""


class Vigil:
    """One engine over a database folder; `restart` builds the next one on the same store."""

    def __init__(self, tmp_path: Path, start: float) -> None:
        self.tmp_path, self.clock = tmp_path, FakeClock(start)
        self.engine: Any = None
        self.pagers: dict[str, FakeNotifier] = {}

    async def start(self) -> None:
        receivers = "\n".join(f'    - {{name: {r}, webhook_configs: [{{url: "http://127.0.0.1:9/{r}"}}]}}'
                              for r in RECEIVERS)
        cfg = parse_config(CFG.format(db=self.tmp_path / "v.db", key=KEY, receivers=receivers), env={})
        self.pagers = {r: FakeNotifier() for r in RECEIVERS}
        notifiers = {r: [n] for r, n in self.pagers.items()}
        self.app, self.engine = build_app(cfg, clock=self.clock, collectors=[], writer=InlineWriter(),
                                          worker=InlineWriter(), notifiers=notifiers)
        await self.engine.start()

    async def stop(self) -> None:
        await self.engine.stop()
        self.engine.store.close()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def pages(self, receiver: str) -> list[Notice]:
        return [n for n in self.pagers[receiver].delivered if n.kind == "escalation"]

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="https://vigil.example.com",
                                 headers={"Authorization": f"Bearer {KEY}"})

    def timeline(self, incident: int = 1,
                 kinds: tuple[str, ...] = ("escalated", "escalation_stopped")) -> list[str]:
        return [e.message for e in self.engine.store.incident_timeline(incident) if e.kind in kinds]


@pytest.fixture
async def vigil(tmp_path: Path) -> AsyncIterator[Vigil]:
    v = Vigil(tmp_path, T0)
    await v.start()
    try:
        yield v
    finally:
        await v.stop()


def alert(name: str, service: str, at: float) -> Alert:
    return Alert({"alertname": name, "service": service, "severity": "critical"}, AlertStatus.FIRING, at,
                 annotations={"summary": f"{name} on {service}"}, source="ingest:generic")


async def test_an_unacknowledged_incident_pages_each_level_in_turn(vigil: Vigil) -> None:
    await vigil.engine.submit_alerts(AlertsIn([alert("PaymentsDown", "payments", T0)]))
    await vigil.clock.advance(1)
    [first] = vigil.pages("alice-pager")  # level 1 at once: alice is on call in primary
    assert first.incident is not None and first.incident["escalation"]["level"] == 1
    assert first.incident["escalation"]["user"] == "alice"
    assert [a.name for a in first.alerts] == ["PaymentsDown"]
    assert vigil.pages("bob-pager") == []
    await vigil.clock.advance(15 * 60 - 11)
    assert vigil.pages("bob-pager") == []  # 14m50s: not yet
    await vigil.clock.advance(11)
    [second] = vigil.pages("bob-pager")  # level 2: bob is on call in secondary
    text = render.text(render.view(second))
    assert text.startswith("Escalated: [FIRING] #1 payments: PaymentsDown\n")
    assert "Escalated to level 2: nobody acknowledged in 15m." in text
    assert "Acknowledge: https://vigil.example.com/links/1.a." in text
    await vigil.clock.advance(15 * 60)
    assert len(vigil.pages("lead-pager")) == 1 and len(vigil.pages("alice-pager")) == 1
    assert len({first.key, second.key, vigil.pages("lead-pager")[0].key}) == 3
    assert vigil.timeline() == [
        "level 1 of escalation policy payments; paged alice (oncall:primary, via alice-pager)",
        "escalated to level 2: nobody acknowledged in 15m; paged bob (oncall:secondary, via bob-pager)",
        "escalated to level 3: nobody acknowledged in 30m; paged lead-pager"]
    decided = vigil.engine.store.decisions(kind="escalation")
    assert sorted(d.rule for d in decided) == ["payments level 1", "payments level 2", "payments level 3"]
    assert all(d.subject == "1" and d.inputs["status"] == "open" for d in decided)
    async with vigil.client() as client:
        state = (await client.get("/api/v1/incidents/1")).json()["escalation"]
    assert state["policy"] == "payments" and state["level"] == 3 and state["next_due"] is None
    assert state["paged"] == ["alice-pager", "bob-pager", "lead-pager"]
    # the route tree told the team on its own, once, after group_wait: escalation is on top of it
    [told] = vigil.pagers["team"].delivered
    assert told.kind == "alerts" and told.incident is not None
    # ... and its notice carries the signed links too, made out to the receiver
    ack = next(x["href"] for x in told.incident["links"] if x["text"] == "Acknowledge")
    signer = vigil.engine.stages.incidents.escalation.signer
    assert signer.check(ack.rsplit("/", 1)[1], vigil.clock.now()).actor == "link:team"


async def test_acknowledging_stops_the_escalation(vigil: Vigil) -> None:
    await vigil.engine.submit_alerts(AlertsIn([alert("PaymentsDown", "payments", T0)]))
    await vigil.clock.advance(5 * 60)
    async with vigil.client() as client:
        assert (await client.post("/api/v1/incidents/1/acknowledge")).status_code == 200
    await vigil.clock.advance(60 * 60)
    assert len(vigil.pages("alice-pager")) == 1
    assert vigil.pages("bob-pager") == [] and vigil.pages("lead-pager") == []
    assert vigil.timeline()[-1] == "escalation stopped: acknowledged by ops"


async def test_resolving_tells_those_paged_and_a_reopen_starts_again(vigil: Vigil) -> None:
    down = alert("PaymentsDown", "payments", T0)
    await vigil.engine.submit_alerts(AlertsIn([down]))
    await vigil.clock.advance(120)
    await vigil.engine.submit_alerts(AlertsIn([down.resolve(vigil.clock.now(), "fixed")]))
    await vigil.clock.advance(1)
    told = vigil.pages("alice-pager")
    assert [n.status for n in told] == [AlertStatus.FIRING, AlertStatus.RESOLVED]
    assert render.view(told[1]).title == "[RESOLVED] #1 payments: PaymentsDown"
    assert vigil.timeline()[-1] == "escalation stopped: resolved; told alice-pager it resolved"
    await vigil.clock.advance(8 * 60)
    await vigil.engine.submit_alerts(AlertsIn([alert("PaymentsDown", "payments", vigil.clock.now())]))
    await vigil.clock.advance(1)
    again = vigil.pages("alice-pager")[2]  # level 1 again, a new episode with its own key
    assert again.status is AlertStatus.FIRING and again.key not in {n.key for n in told}
    await vigil.clock.advance(15 * 60 - 20)
    assert vigil.pages("bob-pager") == []
    await vigil.clock.advance(30)  # (the next tick of 10 s)
    assert len(vigil.pages("bob-pager")) == 1  # 15 minutes after the reopen, not after the first opening
    assert vigil.timeline()[-1].startswith("escalated to level 2: nobody acknowledged in 15m")


async def test_repeat_every_pages_again_until_max_repeats(vigil: Vigil) -> None:
    await vigil.engine.submit_alerts(AlertsIn([alert("SearchSlow", "search", T0)]))
    await vigil.clock.advance(4 * 60 + 50)
    assert vigil.pages("lead-pager") == []
    await vigil.clock.advance(2 * 60 * 60)
    pages = vigil.pages("lead-pager")
    assert [p.incident["escalation"]["round"] for p in pages if p.incident] == [0, 1, 2]
    paged = "paged lead (user:lead, via lead-pager)"
    assert vigil.timeline() == [
        f"level 1 of escalation policy nagging: nobody acknowledged in 5m; {paged}",
        f"paged again: level 1 (repeat 1 of 2): nobody acknowledged in 15m; {paged}",
        f"paged again: level 1 (repeat 2 of 2): nobody acknowledged in 25m; {paged}"]
    sent = [e.ts - T0 for e in vigil.engine.store.incident_timeline(1) if e.kind == "escalated"]
    assert sent == [300.0, 900.0, 1500.0]


async def test_a_silenced_incident_is_not_paged(vigil: Vigil) -> None:
    router = vigil.engine.stages.route.router
    await router.silences.create('{service="payments"}', T0, T0 + 3600, "ops", "planned maintenance", T0)
    await vigil.engine.submit_alerts(AlertsIn([alert("PaymentsDown", "payments", T0)]))
    await vigil.clock.advance(20 * 60)
    assert vigil.pages("alice-pager") == [] and vigil.pages("bob-pager") == []
    muted = vigil.timeline(kinds=("escalated",))
    assert muted[0].startswith("level 1 of escalation policy payments; paged alice")
    assert muted[1].startswith("page to alice-pager not sent: its alerts are muted (silence)")


async def test_a_restart_keeps_the_level_reached(vigil: Vigil) -> None:
    await vigil.engine.submit_alerts(AlertsIn([alert("PaymentsDown", "payments", T0)]))
    await vigil.clock.advance(10 * 60)
    first = vigil.pages("alice-pager")
    await vigil.restart()
    await vigil.clock.advance(4 * 60)
    assert vigil.pages("alice-pager") == [] and vigil.pages("bob-pager") == []  # level 1 is not paged again
    await vigil.clock.advance(2 * 60)
    assert len(vigil.pages("bob-pager")) == 1 and len(first) == 1  # level 2 at 15m, as without a restart
    assert [m.split(";")[0] for m in vigil.timeline()] == [  # the level reached was kept, not recomputed
        "level 1 of escalation policy payments", "escalated to level 2: nobody acknowledged in 15m"]


async def test_a_crash_between_the_outbox_and_the_record_pages_nobody_twice(vigil: Vigil) -> None:
    """The pass paging level 2 writes the outbox row, then fails to record the incident (as if vigil
    died there): after the restart the incident still says level 1, level 2 comes due again, and its
    notice has the same key, so the outbox does not send it again."""
    await vigil.engine.submit_alerts(AlertsIn([alert("PaymentsDown", "payments", T0)]))
    await vigil.clock.advance(14 * 60)
    store = vigil.engine.store
    real = store.write_incidents
    failed: list[float] = []

    def crash_on_level_2(incidents: list, members: list, timeline: list) -> None:
        if any(e.kind == "escalated" and e.data.get("level") == 2 for e in timeline):
            failed.append(vigil.clock.now())
            raise OSError("disk gone")
        real(incidents, members, timeline)

    store.write_incidents = crash_on_level_2
    await vigil.clock.advance(2 * 60)
    [paged] = vigil.pages("bob-pager")
    assert failed and store.incident(1).escalation["level"] == 1  # the store never heard of level 2
    await vigil.restart()
    await vigil.clock.advance(60)
    assert vigil.pages("bob-pager") == []  # level 2 came due again after the restart: not re-sent
    rows = vigil.engine.store.outbox_entries(receiver="bob-pager")
    assert [r.key for r in rows] == [paged.key] and rows[0].state == "delivered"
    assert vigil.engine.store.incident(1).escalation["level"] == 2  # now recorded


async def test_each_level_pages_whoever_is_on_call_when_it_comes_due(tmp_path: Path) -> None:
    monday = dt.datetime(2023, 11, 20, 8, 50, tzinfo=dt.UTC).timestamp()  # alice's week ends at 09:00
    v = Vigil(tmp_path, monday)
    await v.start()
    try:
        await v.engine.submit_alerts(AlertsIn([alert("PaymentsDown", "payments", monday)]))
        await v.clock.advance(1)
        assert len(v.pages("alice-pager")) == 1
        await v.clock.advance(15 * 60)  # 09:05: secondary handed over from bob to alice at 09:00
        assert len(v.pages("alice-pager")) == 2 and v.pages("bob-pager") == []
    finally:
        await v.stop()


def link(notice: Notice, text: str) -> str:
    assert notice.incident is not None
    if text == "View":
        return str(notice.incident["url"]).removeprefix("https://vigil.example.com")
    href = next(x["href"] for x in notice.incident["links"] if x["text"] == text)
    return str(href).removeprefix("https://vigil.example.com")


async def test_a_link_in_the_page_acknowledges_and_records_who(vigil: Vigil) -> None:
    await vigil.engine.submit_alerts(AlertsIn([alert("PaymentsDown", "payments", T0)]))
    await vigil.clock.advance(1)
    [page] = vigil.pages("alice-pager")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=vigil.app),
                                 base_url="https://vigil.example.com") as anonymous:  # no API key
        shown = await anonymous.get(link(page, "Acknowledge"))
        assert shown.status_code == 200
        assert "<button type=submit>Acknowledge incident #1</button>" in shown.text
        assert shown.headers["referrer-policy"] == "no-referrer"
        assert shown.headers["cache-control"] == "no-store"
        assert vigil.engine.store.incident(1).status.value == "open"  # opening the link changed nothing
        done = await anonymous.post(link(page, "Acknowledge"))
        assert done.status_code == 200 and "Incident #1 acknowledged" in done.text
    inc = vigil.engine.store.incident(1)
    assert inc.status.value == "acknowledged" and inc.acknowledged_by == "link:alice"
    timeline = vigil.engine.store.incident_timeline(1)
    assert [e.actor for e in timeline if e.kind == "acknowledged"] == ["link:alice"]
    await vigil.engine.audit.flush()  # in the audit log as an API change is, the link's recipient as who
    [rec] = vigil.engine.audit.records(actor="link:alice")
    assert rec.action == "incident.acknowledge" and rec.incident == 1 and rec.service == "payments"
    assert rec.reason == {"incident": 1, "via": "signed link"} and rec.result["status"] == "acknowledged"
    assert first_break(reversed(vigil.engine.audit.records(limit=1000)))[1] is None  # the chain holds
    await vigil.clock.advance(30 * 60)
    assert vigil.pages("bob-pager") == []  # acknowledged through the link: the escalation stopped


async def test_a_refused_link_answers_403_with_why_and_changes_nothing(vigil: Vigil) -> None:
    await vigil.engine.submit_alerts(AlertsIn([alert("PaymentsDown", "payments", T0)]))
    await vigil.clock.advance(1)
    [page] = vigil.pages("alice-pager")
    resolve, view = link(page, "Resolve"), link(page, "View")
    head, mac = resolve.rsplit(".", 1)
    tampered = resolve.replace("/links/1.", "/links/2.")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=vigil.app),
                                 base_url="https://vigil.example.com") as anonymous:
        for url, why in [(tampered, "bad signature"), (f"{head}.{mac[::-1]}", "bad signature"),
                         ("/links/not-a-token", "malformed link")]:
            for method in (anonymous.get, anonymous.post):
                r = await method(url)
                assert r.status_code == 403 and why in r.text, (url, r.text)
        r = await anonymous.post(view)
        assert r.status_code == 403 and "only shows the incident" in r.text
        assert (await anonymous.get(view)).status_code == 200
        await vigil.clock.advance(24 * 3600)  # links work for server.link_expiry (24h)
        r = await anonymous.post(resolve)
        assert r.status_code == 403 and "expired" in r.text and "Nothing was changed" in r.text
    inc = vigil.engine.store.incident(1)
    assert inc.status.value == "open" and inc.acknowledged_by is None and inc.resolved_by is None
    assert [e.kind for e in vigil.engine.store.incident_timeline(1) if e.actor.startswith("link:")] == []
    await vigil.engine.audit.flush()
    assert [r for r in vigil.engine.audit.records(limit=1000) if r.actor.startswith("link:")] == []
