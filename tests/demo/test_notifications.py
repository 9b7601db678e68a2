"""The demo's story end to end, on the real fleet: faulting payments opens one incident about
payments (storefront's errors inside it, no page of their own), mailed and posted to the demo's real
SMTP server and webhook receiver; recovery resolves it and a "resolved" notification follows."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from vigil.config import parse_config
from vigil.demo.fleet import Fleet
from vigil.demo.sinks import Sinks

pytestmark = pytest.mark.slow


async def _until(check: Any, within_s: float, show: Any) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"not within {within_s}s: {show()}"
        await asyncio.sleep(0.2)


@pytest.mark.timeout(240)
async def test_a_payments_fault_is_one_incident_notified_then_resolved(fleet: Fleet, tmp_path) -> None:
    from vigil.app import build_app

    sinks = Sinks()
    sinks.start()
    config = parse_config(fleet.vigil_config(
        probe_interval_s=1, probe_timeout_s=0.8, scrape_interval_s=1, store_url=f"sqlite:///{tmp_path / 'v.db'}",
        alerting=sinks.receivers(group_wait="2s", group_interval="5s")))
    _, engine = build_app(config)
    await engine.start()
    admin = fleet.services["payments"].admin_url
    incidents = engine.stages.incidents
    try:
        await _until(lambda: set(engine.health().values()) == {"healthy"}, 60, engine.health)
        await asyncio.sleep(3)  # let the detectors see a few normal points first
        async with httpx.AsyncClient(timeout=5) as http:
            await http.post(admin, json={"error_rate": 0.9})
            try:
                await _until(lambda: any(r.via == "email" for r in sinks.received), 60, sinks.latest)
                await _until(lambda: any(r.via == "webhook" for r in sinks.received), 10, sinks.latest)
                await _until(lambda: engine.health()["storefront"] == "unhealthy", 30, engine.health)
                await asyncio.sleep(8)  # storefront's alerts join; nothing is paged for them on their own
                paged = list(sinks.received)
            finally:
                await http.delete(admin)
        open_now = [i for i in incidents.known.values() if i.open]
        assert len(open_now) == 1, [i.title for i in open_now]
        [inc] = open_now
        assert inc.service == "payments" and "storefront" in inc.services, inc.title
        # one page for the fault, by mail and by webhook, with payments' alerts only
        assert sorted(r.via for r in paged) == ["email", "webhook"] and all(r.status == "firing" for r in paged)
        assert all("storefront" not in r.what for r in paged if r.via == "webhook")
        await _until(lambda: not inc.open, 120, lambda: inc.title)
        await _until(lambda: any(r.status == "resolved" for r in sinks.received if r.via == "email"), 30,
                     sinks.latest)
        await _until(lambda: any(r.status == "resolved" for r in sinks.received if r.via == "webhook"), 30,
                     sinks.latest)
    finally:
        await engine.stop()
        engine.store.close()
        sinks.stop()
