"""The dashboard's server side: the live feed (each engine pass that changed something reaches every
stream; a slow client is bounded; heartbeats; streams end when the server stops) and the read-only
configuration view with its secrets masked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.web.conftest import API_KEY
from vigil.config import parse_config
from vigil.web import live
from vigil.web.live import QUEUE_SIZE, LiveFeed, masked_config


class Client:
    """What the stream asks of its request: whether the client went away."""

    def __init__(self) -> None:
        self.gone = False

    async def is_disconnected(self) -> bool:
        return self.gone


def _feed(engine: Any) -> LiveFeed:
    [feed] = [f.__self__ for f in engine.pass_listeners if isinstance(getattr(f, "__self__", None), LiveFeed)]
    return feed


async def test_a_push_reaches_an_open_stream_as_a_pass_event(api) -> None:  # type: ignore[no-untyped-def]
    client, engine = api
    stream = _feed(engine).stream(Client())  # type: ignore[arg-type]
    assert b"event: hello" in await anext(stream)
    r = await client.post("/api/v1/samples", json={"samples": [{"series": 'cpu{service="web"}', "value": 0.5}]})
    assert r.status_code == 200, r.text
    message = await asyncio.wait_for(anext(stream), 5)
    assert message.startswith(b"event: pass\ndata: ") and b'"samples":1' in message
    await stream.aclose()
    assert _feed(engine).clients == 0  # a closed stream leaves nothing behind


async def test_a_pass_that_changed_nothing_sends_nothing(api) -> None:  # type: ignore[no-untyped-def]
    _, engine = api
    feed = _feed(engine)
    stream = feed.stream(Client())  # type: ignore[arg-type]
    await anext(stream)
    sent = feed.sent
    await engine.run_pass()  # a tick: nothing arrived
    assert feed.sent == sent
    await stream.aclose()


async def test_a_slow_client_is_bounded_and_told_it_lost_messages() -> None:
    feed = LiveFeed()
    stream = feed.stream(Client())  # type: ignore[arg-type]
    await anext(stream)
    for i in range(QUEUE_SIZE * 3):
        feed.publish("pass", {"n": i})
    got = [await anext(stream) for _ in range(QUEUE_SIZE)]
    assert any(m.startswith(b"event: lost") for m in got)
    assert len(got) == QUEUE_SIZE  # never more queued than the bound
    feed.close()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_an_idle_stream_has_heartbeats_and_ends_when_its_client_goes(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(live, "HEARTBEAT_S", 0.01)
    feed, client = LiveFeed(), Client()
    stream = feed.stream(client)  # type: ignore[arg-type]
    await anext(stream)
    assert await asyncio.wait_for(anext(stream), 5) == b": heartbeat\n\n"
    client.gone = True
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(stream), 5)
    assert feed.clients == 0


async def test_the_stream_needs_a_key_and_a_client_that_reads_a_stream(api) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    stream = {"Accept": "text/event-stream"}
    r = await client.get("/api/v1/events/stream", headers={**stream, "Authorization": "Bearer wrong"})
    assert r.status_code == 401
    r = await client.get("/api/v1/events/stream")  # a valid key, but a client that waits for the whole body
    assert r.status_code == 406 and "text/event-stream" in r.json()["detail"]


async def test_the_config_view_needs_a_key_and_masks_it(api) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    assert (await client.get("/api/v1/config", headers={"Authorization": ""})).status_code == 401
    r = await client.get("/api/v1/config")
    assert r.status_code == 200
    assert API_KEY not in r.text and '"***"' in r.text
    assert r.json()["config"]["services"][0]["name"] == "storefront"


def test_masked_config_hides_every_kind_of_secret() -> None:
    cfg = parse_config("""
store:
  url: postgresql://vigil:pg-pass-7781@db.internal/vigil
server:
  api_keys: [{name: ops, key: key-value-0042-abcdef}]
services:
  - name: web
    probes:
      - kind: http
        name: health
        url: https://user:probe-pass-55@web.internal/health?token=tok-9981
""", env={})
    text = str(masked_config(cfg))
    for secret in ("pg-pass-7781", "key-value-0042-abcdef", "probe-pass-55", "tok-9981"):
        assert secret not in text
    assert "postgresql://vigil:***@db.internal/vigil" in text and "web.internal/health" in text
