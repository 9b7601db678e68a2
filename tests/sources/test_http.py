import time

import pytest

from vigil.config.sources import HttpProbe
from vigil.sources.http import HttpProbeCollector
from vigil.sources.http_client import HttpPool


async def probe(url: str, **kw):
    kw.setdefault("timeout", 2.0)
    kw.setdefault("interval", 10.0)
    collector = HttpProbeCollector("shop", "http", HttpProbe(kind="http", url=url, **kw), HttpPool())
    try:
        collection = await collector.collect(time.time())
    finally:
        await collector.aclose()
    assert collection.probe is not None and collection.samples == []
    return collection.probe


async def test_status_ok_and_failing(server):
    ok = await probe(f"{server.url}/health")
    assert ok.ok and ok.values["status_code"] == 200 and ok.latency_s > 0
    assert (ok.service, ok.probe) == ("shop", "http")
    bad = await probe(f"{server.url}/status/503")
    assert not bad.ok
    assert bad.detail.startswith(f"HTTP 503 from {server.url}/status/503")
    assert bad.values["status_code"] == 503
    allowed = await probe(f"{server.url}/status/503", expect_status=[503])
    assert allowed.ok


async def test_body_contains(server):
    assert (await probe(f"{server.url}/health", body_contains="all good")).ok
    miss = await probe(f"{server.url}/health", body_contains="database ok")
    assert not miss.ok and "does not contain 'database ok'" in miss.detail


@pytest.mark.parametrize("check, ok, detail", [
    ({"path": "status", "equals": "ok"}, True, ""),
    ({"path": "version", "equals": 3}, True, ""),
    ({"path": "items.0.state", "equals": "up"}, True, ""),
    ({"path": "status"}, True, ""),
    ({"path": "checks.db.ok", "equals": True}, False, "JSON field checks.db.ok is false, expected true"),
    ({"path": "checks.db.ok"}, False, "JSON field checks.db.ok is false"),
    ({"path": "checks.cache"}, False, "JSON field checks.cache missing"),
    ({"path": "version", "equals": True}, False, "expected true"),
])
async def test_json_field(server, check, ok, detail):
    result = await probe(f"{server.url}/json", json_field=check)
    assert result.ok is ok
    assert detail in result.detail


async def test_json_field_on_a_non_json_body(server):
    result = await probe(f"{server.url}/health", json_field={"path": "status"})
    assert not result.ok and "body is not JSON" in result.detail


async def test_latency_is_measured(server):
    result = await probe(f"{server.url}/slow")
    assert result.ok and 0.19 <= result.latency_s < 2.0


async def test_hanging_server_times_out(server):
    started = time.monotonic()
    result = await probe(f"{server.url}/hang", timeout=0.5)
    assert time.monotonic() - started < 2.0
    assert not result.ok
    assert result.detail == f"timed out after 0.5s waiting for {server.url}/hang"


async def test_connect_refused(unused_tcp_port):
    result = await probe(f"http://127.0.0.1:{unused_tcp_port}/health")
    assert not result.ok and result.detail == f"connect refused: http://127.0.0.1:{unused_tcp_port}/health"


async def test_tls_days_left(tls_server):
    result = await probe(f"{tls_server.url}/health", verify_tls=False)
    assert result.ok, result.detail
    assert 29.9 < result.values["tls_days_left"] <= 30.0


async def test_tls_expiring_soon_fails(tls_server):
    result = await probe(f"{tls_server.url}/health", verify_tls=False, tls_min_days=45)
    assert not result.ok
    assert "expires in 30.0 days (minimum 45)" in result.detail
    assert 29.9 < result.values["tls_days_left"] <= 30.0


async def test_untrusted_certificate_fails_when_verifying(tls_server):
    result = await probe(f"{tls_server.url}/health")
    assert not result.ok and "certificate" in result.detail.lower()


async def test_keep_alive_reuses_one_connection(server):
    pool = HttpPool()
    collector = HttpProbeCollector("shop", "http", HttpProbe(kind="http", url=f"{server.url}/health"), pool)
    try:
        for _ in range(5):
            assert (await collector.collect(time.time())).probe.ok
        connector = pool.session().connector
        assert connector is not None and sum(len(v) for v in connector._conns.values()) == 1
    finally:
        await collector.aclose()
