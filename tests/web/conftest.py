from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from vigil.app import build_app
from vigil.config import parse_config
from vigil.testing import FakeClock

API_KEY = "test-key-0123456789"

CONFIG = f"""
store:
  url: sqlite:///{{db}}
server:
  # Tests here send many wrong keys from one address; test_rate_limits checks the limits themselves.
  rate_limit_per_address: 1000000
  rate_limit_failures_per_address: 1000000
  api_keys:
    - name: tests
      key: {API_KEY}
services:
  - name: storefront
    depends_on: [catalog]
  - name: catalog
oncall:
  users:
    - name: alice
    - name: bob
  schedules:
    - name: primary
      time_zone: Europe/Berlin
      layers:
        - rotation: daily
          start: 2023-01-01
          users: [alice, bob]
        - rotation: hourly
          every: 8
          start: 2023-11-01
          end: 2024-02-01
          users: [bob]
      overrides:
        - user: bob
          start: "2023-11-14T18:00:00+01:00"
          end: "2023-11-15T09:00:00+01:00"
"""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_700_000_000.0)


@pytest.fixture
async def api(tmp_path: Path, clock: FakeClock) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    async with running(CONFIG.format(db=tmp_path / "vigil.db"), clock) as both:
        yield both


@contextlib.asynccontextmanager
async def running(config: str, clock: FakeClock) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """A started engine and an in-process client of its API, for this configuration text."""
    app, engine = build_app(parse_config(config, env={}), clock=clock, collectors=[])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://vigil.test",
                                 headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        await engine.start()
        try:
            yield client, engine
        finally:
            await engine.stop()
            engine.store.close()


class RawResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes, pulled: int) -> None:
        self.status, self.headers, self.body, self.pulled = status, headers, body, pulled


async def call_asgi(app: object, method: str, path: str, headers: dict[str, str], chunks: Iterable[bytes],
                    gate: asyncio.Event | None = None, send_gate: asyncio.Event | None = None,
                    query: dict[str, str] | None = None) -> RawResponse:
    """One request straight into the ASGI app, its body delivered chunk by chunk from `chunks` (which may
    be endless), counting how many chunks the app pulled. With `gate`, the first pull waits for it; with
    `send_gate`, the app's first send does (the request stays in flight)."""
    it = iter(chunks)
    pulled = 0
    pending = next(it, None)
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled, pending
        if gate is not None and pulled == 0:
            await gate.wait()
        if pending is None:
            await asyncio.sleep(3600)  # nothing more to send: like a client that stopped
        chunk, pending = pending, next(it, None)
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pending is not None}

    async def send(message: dict) -> None:
        if send_gate is not None:
            await send_gate.wait()
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": urlencode(query or {}).encode(), "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("127.0.0.1", 50000), "server": ("vigil.test", 80)}
    await app(scope, receive, send)  # type: ignore[operator]
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return RawResponse(start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body, pulled)


@pytest.fixture
def make_app(api):  # type: ignore[no-untyped-def]
    """Another app over the running engine of `api`, with the limits given."""
    from vigil.web.application import api_app
    from vigil.web.auth import ApiKeys

    _, engine = api

    def build(**limits: int):  # type: ignore[no-untyped-def]
        from vigil.web.limits import WebLimits

        return api_app(engine, ApiKeys({"tests": API_KEY}), WebLimits(**limits))

    return build
