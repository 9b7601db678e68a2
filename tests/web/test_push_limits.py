"""What a push may cost: bodies refused by Content-Length before a byte is read and while streaming at
the limit, rejected batches released at once (no traceback keeping them alive), large bodies a few
at a time, and name/label sizes capped with clear 4xx answers."""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
import tracemalloc

import orjson
import pytest

from tests.web.conftest import API_KEY, call_asgi
from vigil.app import serve
from vigil.demo.run import free_port
from vigil.model import MAX_LABEL_VALUE_CHARS, MAX_LABELS
from vigil.web.push import MAX_ERRORS_LISTED

T0 = 1_700_000_000.0
AUTH = {"authorization": f"Bearer {API_KEY}", "content-type": "application/json"}
MIB = 1024 * 1024


async def test_content_length_over_the_limit_is_refused_unread(make_app) -> None:
    app = make_app(max_body_bytes=4 * MIB)
    chunk = b" " * (256 * 1024)
    r = await call_asgi(app, "POST", "/api/v1/samples", {**AUTH, "content-length": str(500 * MIB)},
                        itertools.repeat(chunk, 4000))
    assert r.status == 413 and r.pulled == 0, (r.status, r.pulled)
    assert b"Content-Length 524288000 bytes" in r.body and b"at most 4,194,304 bytes" in r.body
    assert r.headers["connection"] == "close"


async def test_streamed_body_stops_at_the_limit(make_app) -> None:
    app = make_app(max_body_bytes=4 * MIB, large_body_bytes=8 * MIB)
    chunk = b" " * (256 * 1024)
    started = time.perf_counter()
    r = await call_asgi(app, "POST", "/api/v1/samples", AUTH, itertools.repeat(chunk, 4000))  # 1000 MiB offered
    assert r.status == 413 and b"more than 4,194,304 bytes" in r.body
    assert r.pulled == 17, r.pulled  # 16 chunks fit; the 17th crosses the limit and reading stops
    assert time.perf_counter() - started < 5


async def test_bad_content_length_is_400(make_app) -> None:
    r = await call_asgi(make_app(), "POST", "/api/v1/samples", {**AUTH, "content-length": "12abc"}, [b"{}"])
    assert r.status == 400 and b"invalid Content-Length" in r.body


async def test_unsupported_type_is_refused_before_reading(make_app) -> None:
    r = await call_asgi(make_app(), "POST", "/api/v1/samples", {**AUTH, "content-type": "application/xml"},
                        itertools.repeat(b"x" * 1024, 100))
    assert r.status == 415 and r.pulled == 0


async def test_large_bodies_a_few_at_a_time(make_app) -> None:
    """Parsing a large body costs many times its size in memory: only max_large_bodies at once."""
    app = make_app(large_body_bytes=1024, max_large_bodies=1)
    gate = asyncio.Event()
    body = orjson.dumps({"samples": [{"series": "big", "ts": T0 + i, "value": i} for i in range(100)]})
    first = asyncio.create_task(call_asgi(app, "POST", "/api/v1/samples",
                                          {**AUTH, "content-length": str(len(body))}, [body], gate=gate))
    await asyncio.sleep(0.05)  # the first holds the only large-body slot, waiting for its body
    second = await call_asgi(app, "POST", "/api/v1/samples", {**AUTH, "content-length": str(len(body))}, [body])
    assert second.status == 429 and second.headers["retry-after"] == "1" and second.pulled == 0
    small = await call_asgi(app, "POST", "/api/v1/samples", AUTH, [b'{"samples": [{"series": "s", "value": 1}]}'])
    assert small.status == 200, small.body
    gate.set()
    assert (await first).status == 200
    third = await call_asgi(app, "POST", "/api/v1/samples", {**AUTH, "content-length": str(len(body))}, [body])
    assert third.status == 200, third.body  # the slot was given back


async def _retained_after(app: object, body: bytes, ctype: str) -> tuple[int, int]:
    """(status, bytes still allocated once the answer is sent). The cyclic collector is off, so only
    reference counting frees: a rejected batch kept by an exception's traceback cycle stays."""
    chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)]
    headers = {"authorization": f"Bearer {API_KEY}", "content-type": ctype}
    await call_asgi(app, "POST", "/api/v1/samples", headers, chunks)  # warm caches and imports
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        r = await call_asgi(app, "POST", "/api/v1/samples", headers, chunks)
        # The parse ran on a worker thread, which drops its arguments just after handing back the result.
        await asyncio.sleep(0.1)
        retained = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        gc.enable()
    return r.status, retained


async def test_rejected_batch_is_released_at_once(api) -> None:
    client, _ = api
    items = [{"series": f'm{{i="{i % 50}"}}', "ts": T0 + i, "value": float(i)} for i in range(200_000)]
    items[-1]["value"] = "bad"
    status, retained = await _retained_after(client._transport.app, orjson.dumps({"samples": items}),
                                             "application/json")
    assert status == 400
    assert retained < 8 * MIB, retained  # the parsed batch is ~70 MB


async def test_rejected_text_batch_is_released_at_once(api) -> None:
    client, _ = api
    lines = [f'm{{i="{i % 50}"}} {i} {int((T0 + i) * 1000)}' for i in range(100_000)] + ["m not-a-number"]
    status, retained = await _retained_after(client._transport.app, "\n".join(lines).encode(), "text/plain")
    assert status == 400
    assert retained < 8 * MIB, retained


@pytest.mark.parametrize("item,message", [
    ({"name": "m", "labels": {"a": "x" * (MAX_LABEL_VALUE_CHARS + 1)}, "value": 1},
     f"at most {MAX_LABEL_VALUE_CHARS:,} are allowed"),
    ({"series": 'm{a="' + "x" * 10_000_000 + '"}', "value": 1}, "a series is at most"),
    ({"name": "m" * 2000, "value": 1}, "invalid metric name"),
    ({"name": "m", "labels": {f"l{i}": "x" for i in range(MAX_LABELS + 1)}, "value": 1},
     f"at most {MAX_LABELS} are allowed"),
])
async def test_name_and_label_caps(api, item: dict, message: str) -> None:
    client, engine = api
    r = await client.post("/api/v1/samples", json={"samples": [item]})
    assert r.status_code == 400 and message in r.text, r.text[:500]
    assert len(r.content) < 2000  # the 10 MB value is not echoed back
    assert engine.store.list_series(name="m") == []


async def test_error_list_says_how_many_and_that_it_is_capped(api) -> None:
    client, _ = api
    r = await client.post("/api/v1/samples", json={"samples": [{"series": "ok", "value": "x"}] * 1000})
    detail = r.json()["detail"]
    assert r.status_code == 400
    assert detail["error_count"] == 1000 and detail["errors_listed"] == MAX_ERRORS_LISTED
    assert len(detail["errors"]) == MAX_ERRORS_LISTED and detail["errors"][-1]["index"] == MAX_ERRORS_LISTED - 1
    assert f"1000 invalid item(s) (the first {MAX_ERRORS_LISTED} are listed)" in detail["error"]
    few = await client.post("/api/v1/samples", json={"samples": [{"series": "ok", "value": "x"}] * 3})
    assert few.json()["detail"]["error_count"] == 3 and "listed" not in few.json()["detail"]["error"]


async def test_item_with_series_and_name_is_refused(api) -> None:
    client, engine = api
    r = await client.post("/api/v1/samples", json={"samples": [{"series": "a", "name": "b", "value": 1}]})
    assert r.status_code == 400
    assert r.json()["detail"]["errors"][0]["error"] == 'give either "series" or "name" and "labels", not both'
    assert engine.store.list_series() == []


async def test_real_server_refuses_a_declared_huge_body_without_reading_it(api, make_app) -> None:
    """Over loopback: the headers alone announce 500 MB; the answer comes before any body is sent."""
    port = free_port()
    ready = asyncio.Event()
    server = asyncio.create_task(serve(make_app(), "127.0.0.1", port, ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"POST /api/v1/samples HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {API_KEY}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {500 * MIB}\r\n\r\n".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 413"), head
        assert b"connection: close" in head.lower()
        writer.close()
    finally:
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
