"""The demo services as real processes on loopback: health, metrics, calls, and every fault knob."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.demo.promtext import metric_value
from vigil.demo.fleet import Fleet


@pytest.fixture
def clean(fleet: Fleet, http: httpx.Client) -> Iterator[None]:
    yield
    for member in fleet.services.values():
        if member.running():
            http.delete(member.admin_url)


def test_every_service_is_healthy(fleet: Fleet, http: httpx.Client) -> None:
    assert set(fleet.services) == {"storefront", "catalog", "payments"}
    for member in fleet.services.values():
        r = http.get(member.health_url)
        assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    front = http.get(fleet.services["storefront"].health_url).json()
    assert front["dependencies"] == {"catalog": "ok", "payments": "ok"}


def test_metrics_parse_with_prometheus_parser(fleet: Fleet, http: httpx.Client) -> None:
    http.get(fleet.services["storefront"].url + "/")
    for member in fleet.services.values():
        families = {f.name: f for f in text_string_to_metric_families(http.get(member.metrics_url).text)}
        assert families["http_requests"].type == "counter"
        assert families["http_request_duration_seconds"].type == "histogram"
        assert families["http_request_errors"].type == "counter"
        assert families["process_resident_memory_bytes"].samples[0].value > 10e6
        assert "demo_leaked_bytes" in families and "demo_fault" in families


def test_storefront_calls_catalog_and_payments(fleet: Fleet, http: httpx.Client) -> None:
    catalog, payments = fleet.services["catalog"].metrics_url, fleet.services["payments"].metrics_url
    before = (metric_value(http, catalog, "http_requests_total", status="200"),
              metric_value(http, payments, "http_requests_total", route="/charge", status="200"))
    front = fleet.services["storefront"].url
    for _ in range(4):
        assert http.get(front + "/").status_code == 200
        r = http.get(front + "/checkout")
        assert r.status_code == 200 and r.json()["charge"]["status"] == "approved"
    after = (metric_value(http, catalog, "http_requests_total", status="200"),
             metric_value(http, payments, "http_requests_total", route="/charge", status="200"))
    assert after[0] - before[0] >= 8  # 4 listings + 4 product look-ups
    assert after[1] - before[1] == 4


def test_latency_fault_adds_latency(fleet: Fleet, http: httpx.Client, clean: None) -> None:
    catalog = fleet.services["catalog"]
    assert http.post(catalog.admin_url, json={"latency_ms": 500}).status_code == 200
    assert http.get(catalog.admin_url).json()["fault"]["latency_ms"] == 500
    for url in (catalog.url + "/products", fleet.services["storefront"].url + "/"):
        t = time.monotonic()
        assert http.get(url).status_code == 200
        assert time.monotonic() - t >= 0.5
    http.delete(catalog.admin_url)
    t = time.monotonic()
    http.get(catalog.url + "/products")
    assert time.monotonic() - t < 0.4


def test_error_rate_is_about_as_set(fleet: Fleet, http: httpx.Client, clean: None) -> None:
    catalog = fleet.services["catalog"]
    http.post(catalog.admin_url, json={"error_rate": 0.3})
    codes = [http.get(catalog.url + "/products").status_code for _ in range(200)]
    assert set(codes) <= {200, 500}
    assert 0.18 <= codes.count(500) / len(codes) <= 0.42
    assert http.get(catalog.health_url).status_code == 200  # 30% is not "erroring heavily"
    errors = metric_value(http, catalog.metrics_url, "http_request_errors_total", route="/products")
    assert errors >= codes.count(500)


def test_heavy_errors_fail_health_and_dependants(fleet: Fleet, http: httpx.Client, clean: None) -> None:
    http.post(fleet.services["payments"].admin_url, json={"error_rate": 0.9})
    r = http.get(fleet.services["payments"].health_url)
    assert r.status_code == 503 and r.json()["status"] == "erroring"
    front = http.get(fleet.services["storefront"].health_url)
    assert front.status_code == 503 and front.json()["dependencies"]["payments"] == "HTTP 503"


def test_hang_makes_health_time_out(fleet: Fleet, http: httpx.Client, clean: None) -> None:
    catalog = fleet.services["catalog"]
    http.post(catalog.admin_url, json={"hang": True})
    with pytest.raises(httpx.TimeoutException):
        http.get(catalog.health_url, timeout=1.0)
    assert http.get(catalog.admin_url).json()["fault"]["hang"] is True  # admin still answers
    http.delete(catalog.admin_url)
    assert http.get(catalog.health_url, timeout=2.0).status_code == 200


def test_leak_grows_the_memory_gauge(fleet: Fleet, http: httpx.Client, clean: None) -> None:
    catalog = fleet.services["catalog"]
    before = metric_value(http, catalog.metrics_url, "process_resident_memory_bytes")
    http.post(catalog.admin_url, json={"leak_mb_per_min": 1800})  # 30 MB/s, capped at 48 MB
    deadline = time.monotonic() + 5
    grown = 0.0
    while time.monotonic() < deadline and grown < 20e6:
        time.sleep(0.25)
        grown = metric_value(http, catalog.metrics_url, "process_resident_memory_bytes") - before
    assert grown >= 20e6
    time.sleep(1.0)
    leaked = metric_value(http, catalog.metrics_url, "demo_leaked_bytes")
    assert leaked <= 48 * 1024 * 1024  # the cap holds
    assert http.delete(catalog.admin_url).json()["leaked_bytes"] == 0


def test_bad_fault_requests_are_refused(fleet: Fleet, http: httpx.Client, clean: None) -> None:
    admin = fleet.services["catalog"].admin_url
    for body in ({"latency": 5}, {"error_rate": 2}, {"hang": "yes"}, {"latency_ms": True}, [1]):
        r = http.post(admin, json=body)
        assert r.status_code == 400 and r.json()["error"], body
    assert http.get(admin).json()["fault"] == {"latency_ms": 0.0, "error_rate": 0.0, "leak_mb_per_min": 0.0,
                                               "hang": False, "crash": False}


def test_crash_kills_the_process_and_restart_brings_it_back(fleet: Fleet, http: httpx.Client) -> None:
    payments = fleet.services["payments"]
    assert http.post(payments.admin_url, json={"crash": True}).status_code == 200
    payments.process.wait(timeout=5)
    assert payments.process.returncode == 70
    front = http.get(fleet.services["storefront"].health_url)
    assert front.status_code == 503 and front.json()["dependencies"]["payments"] == "unreachable"
    assert http.get(fleet.services["storefront"].url + "/checkout").status_code == 502
    again = fleet.restart("payments")
    assert again.url == payments.url and again.pid != payments.pid
    assert http.get(fleet.services["storefront"].health_url).status_code == 200
