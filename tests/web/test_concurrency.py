"""A global cap on API work in flight: over it, 429 with Retry-After at once; health and metrics have
their own cap, so probes still answer while the API is saturated."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.web.conftest import API_KEY, call_asgi
from vigil.app import serve
from vigil.demo.run import free_port

AUTH = {"authorization": f"Bearer {API_KEY}", "content-type": "application/json"}
BODY = b'{"samples": [{"series": "held", "value": 1}]}'


async def test_over_the_cap_is_429_and_health_still_answers(make_app) -> None:
    app = make_app(max_concurrent=2, max_concurrent_exempt=1)
    gate = asyncio.Event()
    held = [asyncio.create_task(call_asgi(app, "POST", "/api/v1/samples", AUTH, [BODY], gate=gate))
            for _ in range(2)]
    await asyncio.sleep(0.05)  # both are in flight, waiting for their bodies
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil.test",
                                 headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        busy = await client.get("/api/v1/services")
        assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
        assert "too many requests in flight (at most 2)" in busy.json()["detail"]
        anonymous = await client.get("/api/v1/services", headers={"Authorization": ""})
        assert anonymous.status_code == 429  # counted before authentication: no free work for anyone
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
        gate.set()
        assert [(await t).status for t in held] == [200, 200]
        assert (await client.get("/api/v1/services")).status_code == 200


async def test_health_has_its_own_cap(make_app) -> None:
    app = make_app(max_concurrent=1, max_concurrent_exempt=1)
    gate = asyncio.Event()
    probe = asyncio.create_task(call_asgi(app, "GET", "/healthz", {}, [b""], send_gate=gate))
    await asyncio.sleep(0.02)  # in flight: its answer is not taken yet
    assert (await call_asgi(app, "GET", "/readyz", {}, [b""])).status == 429
    assert (await call_asgi(app, "GET", "/api/v1/services", AUTH, [b""])).status == 200  # the API's own cap
    gate.set()
    assert (await probe).status == 200
    assert (await call_asgi(app, "GET", "/healthz", {}, [b""])).status == 200


@pytest.mark.slow
async def test_load_ramp_on_a_real_server_gets_429_not_5xx(api) -> None:
    """128 clients at once over loopback, each pushing a body in slow pieces, against the default cap
    (32 requests in flight)."""
    client, _ = api
    port = free_port()
    ready = asyncio.Event()
    server = asyncio.create_task(serve(client._transport.app, "127.0.0.1", port, ready))

    async def slow_body():  # type: ignore[no-untyped-def]
        for piece in (b'{"samples": [', b'{"series": "ramp", "value": 1}', b"]}"):
            yield piece
            await asyncio.sleep(0.2)

    try:
        await asyncio.wait_for(ready.wait(), 10)
        limits = httpx.Limits(max_connections=128)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30,
                                     headers={"Authorization": f"Bearer {API_KEY}",
                                              "Content-Type": "application/json"}) as client:
            answers = await asyncio.gather(*(client.post("/api/v1/samples", content=slow_body())
                                             for _ in range(128)))
            statuses = [a.status_code for a in answers]
            assert set(statuses) <= {200, 429}, statuses
            assert statuses.count(429) >= 64 and statuses.count(200) >= 32, statuses
            assert all(a.headers["Retry-After"] == "1" for a in answers if a.status_code == 429)
            assert (await client.get("/healthz")).status_code == 200
    finally:
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
