"""Fixtures for the notification tests: the store on SQLite and PostgreSQL (as the store tests run),
notices to send, and real receivers on free loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.notify.receivers import HttpReceiver
from tests.store.conftest import pg_url, store, store_url  # noqa: F401  (fixtures, reused)
from vigil.model import Alert, AlertStatus, Notice

T0 = 1_700_000_000.0
INCIDENT_EXAMPLE = {
    "id": "42",
    "title": "payments is failing",
    "summary": "Error rate of payments rose to 20%.",
    "root_cause": [{"service": "payments", "score": 0.91, "why": "errors rose 40 s before storefront"}, "db"],
    "links": {"Acknowledge": "http://vigil.test/ack/42?sig=abc", "Resolve": "http://vigil.test/res/42"},
    "url": "http://vigil.test/incidents/42",
}


def alert(
    name: str = "HighErrorRate",
    service: str = "payments",
    status: str = "firing",
    severity: str = "critical",
    starts_at: float = T0 - 120,
    ends_at: float | None = None,
    **labels: str,
) -> Alert:
    return Alert(
        {"alertname": name, "service": service, "severity": severity, **labels},
        AlertStatus(status),
        starts_at,
        ends_at,
        {"summary": f"{name} on {service}"},
        "rule:test",
    )


def notice(
    key: str,
    group: str = "g1",
    status: str = "firing",
    receiver: str = "team",
    at: float = T0,
    alerts: list[Alert] | None = None,
    incident: dict | None = None,
) -> Notice:
    st = AlertStatus(status)
    if alerts is None:
        alerts = [alert(status=status, ends_at=at if st is AlertStatus.RESOLVED else None)]
    return Notice(
        key, receiver, f'{{}}:{{group="{group}"}}', st, alerts, at, {"group": group}, incident=incident
    )


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    r = await HttpReceiver().start()
    try:
        yield r
    finally:
        if r.hold is not None:
            r.hold.set()
        await r.stop()
