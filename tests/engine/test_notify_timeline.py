"""From alert to notification through the whole loop, on a fake clock: alerts gathered into an
incident, routed in Alertmanager's vocabulary (grouped by incident), the downstream service's alerts
inhibited by dependency, delivered through the durable outbox, resolved after firing, and each
delivery on the incident's timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vigil.app import build_app
from vigil.config import parse_config
from vigil.model import Alert, AlertStatus
from vigil.pipeline import AlertsIn
from vigil.testing import FakeClock, FakeNotifier, InlineWriter

T0 = 1_700_000_000.0
CFG = """
store: {{url: "sqlite:///{db}"}}
services:
  - {{name: storefront, depends_on: [payments]}}
  - {{name: payments}}
alerting:
  route:
    receiver: oncall
    group_by: [incident]
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 4h
  receivers:
    - name: oncall
      webhook_configs: [{{url: "http://127.0.0.1:9/unused"}}]
"""


def alert(name: str, service: str, at: float) -> Alert:
    return Alert({"alertname": name, "service": service, "severity": "critical"}, AlertStatus.FIRING, at,
                 annotations={"summary": f"{name} on {service}"}, source="ingest:generic")


@pytest.fixture
async def vigil(tmp_path: Path) -> Any:
    clock = FakeClock(T0)
    pager = FakeNotifier()
    _, engine = build_app(parse_config(CFG.format(db=tmp_path / "v.db"), env={}), clock=clock, collectors=[],
                          writer=InlineWriter(), worker=InlineWriter(), notifiers={"oncall": [pager]})
    await engine.start()
    try:
        yield clock, engine, pager
    finally:
        await engine.stop()
        engine.store.close()


async def test_one_page_per_incident_about_the_root_service_then_resolved(vigil: Any) -> None:
    clock, engine, pager = vigil
    down = alert("PaymentsDown", "payments", T0)
    errors = alert("StorefrontErrors", "storefront", T0 + 5)
    await engine.submit_alerts(AlertsIn([down]))
    await clock.advance(5)
    await engine.submit_alerts(AlertsIn([errors]))
    await clock.advance(20)
    assert pager.delivered == []  # group_wait: 30 s after the first alert
    await clock.advance(6)
    [page] = pager.delivered
    assert page.status is AlertStatus.FIRING and page.group_labels == {"incident": "1"}
    # storefront's errors come from payments: inside the incident, but not paged on their own
    assert [a.labels["alertname"] for a in page.alerts] == ["PaymentsDown"]
    assert page.incident is not None and page.incident["service"] == "payments"
    assert page.incident["services"] == ["payments", "storefront"]

    await clock.advance(60)
    await engine.submit_alerts(AlertsIn([down.resolve(clock.now(), "fixed"), errors.resolve(clock.now(), "fixed")]))
    await clock.advance(5 * 60)  # the next group_interval
    assert [n.status for n in pager.delivered] == [AlertStatus.FIRING, AlertStatus.RESOLVED]
    assert pager.delivered[1].key != page.key
    timeline = engine.store.incident_timeline(1)
    notified = [e.message for e in timeline if e.kind == "notified"]
    assert notified == ["firing notification delivered to oncall/webhook[0]",
                        "resolved notification delivered to oncall/webhook[0]"]
    lines = [e.message for e in engine.store.events(kind="notification")]
    assert lines == ["notification firing delivered to oncall/webhook[0]",
                     "notification resolved delivered to oncall/webhook[0]"]


async def test_a_failing_receiver_is_retried_until_it_takes_the_page(vigil: Any) -> None:
    clock, engine, pager = vigil
    pager.fail(retryable=True, times=3)
    await engine.submit_alerts(AlertsIn([alert("PaymentsDown", "payments", T0)]))
    await clock.advance(30.5)
    assert len(pager.attempts) == 1 and pager.delivered == []  # group_wait, then the first attempt fails
    await clock.advance(120)  # full-jitter backoff from 1 s: three retries well within two minutes
    assert len(pager.attempts) == 4 and len(pager.delivered) == 1
    assert len({n.key for n in pager.attempts}) == 1  # the same notice, the same key, every time
    states = [e.message.split(" to ")[0] for e in engine.store.events(kind="notification")]
    assert states == ["notification firing retrying"] * 3 + ["notification firing delivered"]
