"""What the demo's view reads from a service's /metrics."""

from __future__ import annotations

import math

import aiohttp
import pytest

from vigil.demo.fleet import Fleet
from vigil.demo.readings import FleetReadings, bucket_quantile, parse_scrape
from vigil.demo.view import DemoState, render, status_line


def test_bucket_quantile_interpolates_like_prometheus() -> None:
    buckets = {0.1: 50.0, 0.5: 90.0, 1.0: 100.0, math.inf: 100.0}
    assert bucket_quantile(0.5, buckets) == pytest.approx(0.1)
    assert bucket_quantile(0.7, buckets) == pytest.approx(0.3)
    assert bucket_quantile(0.99, buckets) == pytest.approx(0.95)
    assert bucket_quantile(0.99, {1.0: 0.0, math.inf: 0.0}) is None
    assert bucket_quantile(0.99, {1.0: 1.0, math.inf: 10.0}) == 1.0  # beyond the last finite edge


def test_parse_scrape_keeps_business_routes_only() -> None:
    text = "\n".join([
        'http_requests_total{route="/",method="GET",status="200"} 8',
        'http_requests_total{route="/",method="GET",status="502"} 2',
        'http_requests_total{route="/health",method="GET",status="200"} 100',
        'process_resident_memory_bytes 5e+07',
        'demo_fault{knob="latency_ms"} 300',
        'demo_fault{knob="hang"} 0',
    ]) + "\n"
    s = parse_scrape(text, at=1.0)
    assert (s.requests, s.errors, s.memory_bytes) == (10, 2, 5e7)
    assert s.fault == {"latency_ms": 300}


async def test_readings_from_a_live_fleet(fleet: Fleet) -> None:
    readings = FleetReadings({n: m.metrics_url for n, m in fleet.services.items()}, window_s=5)
    async with aiohttp.ClientSession() as session:
        await readings.read(session)
        for _ in range(5):
            async with session.get(fleet.services["storefront"].url + "/") as r:
                assert r.status == 200
        now = await readings.read(session)
    front = now["storefront"]
    assert front.reachable and front.request_rate and front.request_rate > 0
    assert front.error_ratio == 0 and front.p99_s is not None and front.memory_bytes
    state = DemoState("http://127.0.0.1:1", "key", "sqlite:///x.db",
                      {n: m.admin_url for n, m in fleet.services.items()}, readings=now,
                      health={"storefront": "healthy"})
    assert "storefront=healthy" in status_line(state)
    render(state)  # builds without error
