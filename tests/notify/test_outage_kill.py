"""vigil SIGKILLed in the middle of sending, then restarted: a real `vigil up` (SQLite store) routes
alerts posted to its API to a slow webhook receiver on loopback (each answer takes a while, two
deliveries at a time), is killed while some deliveries are under way and others wait in the outbox,
and is started again on the same database. Every notification arrives, each idempotency key at least
once, and the only keys that arrive twice are those of the rows that were `sending` at the kill (read
from the store after the kill, before the restart: the attempts under way). Then the alerts resolve and
each group's "resolved" follows its "firing"."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.incidents.vigil_process import KEY, VigilProcess
from tests.notify.receivers import HttpReceiver
from vigil.store import open_store

pytestmark = pytest.mark.slow

GROUPS = 12


def body(receiver: HttpReceiver) -> str:
    return f"""
services:
  - name: checkout
alerting:
  route:
    receiver: hook
    group_by: [alertname]
    group_wait: 0s
    group_interval: 1s
    repeat_interval: 1h
  receivers:
    - name: hook
      webhook_configs: [{{url: "{receiver.url}/hook", send_resolved: true}}]
  outbox: {{max_in_flight_per_endpoint: 2}}
"""


async def until(predicate, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {seconds:g} s"
        await asyncio.sleep(0.05)


async def post(vigil: VigilProcess, alerts: list[dict]) -> None:
    async with httpx.AsyncClient(timeout=30) as h:
        r = await h.post(f"{vigil.url}/api/v2/alerts", json=alerts, headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 200, r.text


def alerts(ends_at: str | None = None) -> list[dict]:
    out = []
    for g in range(GROUPS):
        a: dict = {"labels": {"alertname": f"Down{g}", "service": "checkout", "severity": "critical"},
                   "startsAt": "2026-01-01T00:00:00Z"}
        if ends_at:
            a["endsAt"] = ends_at
        out.append(a)
    return out


def outbox_rows(db: Path) -> dict[str, str]:
    store = open_store(f"sqlite:///{db}")
    try:
        return {r.key: r.state for r in store.outbox_entries(limit=1000)}
    finally:
        store.close()


async def test_a_sigkill_while_sending_loses_nothing_and_resends_only_what_was_in_flight(tmp_path: Path) -> None:
    receiver = await HttpReceiver(delay=2.0).start()  # long answers: the kill lands while sends are under way
    vigil = VigilProcess(tmp_path, body(receiver))
    try:
        await asyncio.to_thread(vigil.start)
        await post(vigil, alerts())
        await until(lambda: len(receiver.requests) >= 3, 60, "the first deliveries")
        await until(lambda: len(receiver.arrivals) - len(receiver.requests) >= 1, 10, "a delivery under way")
        vigil.kill()  # SIGKILL: nothing more is written
        before = receiver.keys(every=True)
        rows = outbox_rows(vigil.db)
        in_flight = {k for k, state in rows.items() if state == "sending"}
        waiting = {k for k, state in rows.items() if state in ("pending", "retrying")}
        assert len(rows) == GROUPS, rows  # every firing notice was written before any was sent
        assert in_flight and waiting, rows  # the kill came with attempts under way and others in line
        reached = in_flight & set(before)  # under way and already at the receiver, unanswered
        assert reached, (in_flight, before)
        await asyncio.to_thread(vigil.start)  # the same database
        await until(lambda: set(receiver.keys()) >= set(rows), 90, "every notification delivered after the restart")
        every = receiver.keys(every=True)
        twice = {k for k in every if every.count(k) > 1}
        assert twice <= in_flight, (twice, in_flight)  # duplicates only of sends in flight at the kill
        assert reached <= twice  # and those are sent again, with the same key
        assert set(every) == set(rows)  # each key at least once, and nothing unknown
        assert all(b["status"] == "firing" for b in receiver.bodies())
        await post(vigil, alerts(ends_at="2026-01-01T00:05:00Z"))  # they resolve
        await until(lambda: sum(b["status"] == "resolved" for b in receiver.bodies()) >= GROUPS, 90,
                    "a resolved notification per group")
        accepted = [(r.headers["Idempotency-Key"], r.body) for r in receiver.requests]
        for g in range(GROUPS):
            mine = [b["status"] for _, b in accepted if b["alerts"][0]["labels"]["alertname"] == f"Down{g}"]
            assert mine[0] == "firing" and mine[-1] == "resolved", (g, mine)
        final = await asyncio.to_thread(vigil.get, "/api/v1/notifications", limit=1000)
        assert {n["state"] for n in final["notifications"]} == {"delivered"}
        assert len(final["notifications"]) == 2 * GROUPS
    finally:
        assert await asyncio.to_thread(vigil.stop) in (0, None), vigil.log()[-3000:]
        await receiver.stop()
