"""A database outage, for real: vigil's PostgreSQL store reaches the server through a TCP relay on
loopback that the test closes and reopens. While it is closed the API answers 503 with a reason and
Retry-After, logs one line for the whole outage (no traceback per request), and recovers by itself."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.web.conftest import API_KEY
from vigil.app import build_app
from vigil.config import parse_config
from vigil.demo.run import free_port
from vigil.testing import FakeClock

pytestmark = pytest.mark.postgres

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN = os.environ.get("VIGIL_TEST_PG", f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test")
T0 = 1_700_000_000.0


class Relay:
    """Forwards loopback connections on `port` to PostgreSQL, on its own thread and event loop (the
    store's calls block). close() cuts every connection and stops listening (clients then get
    'connection refused'); open() listens again on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task] = set()

    def _run(self, coro) -> None:  # type: ignore[no-untyped-def]
        asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def open(self) -> None:
        self._run(self._open())

    def close(self) -> None:
        self._run(self._close())

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    @property
    def serving(self) -> bool:
        return self.server is not None and self.server.is_serving()

    async def _open(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port, reuse_address=True)

    async def _close(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in list(self.writers):
            w.close()
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()
        self.writers.clear()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        try:
            up_reader, up_writer = await asyncio.open_connection(PG_HOST, PG_PORT)
        except OSError:
            writer.close()
            return
        self.writers.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            self.writers.discard(writer)


@pytest.fixture
def scratch_db() -> Iterator[str]:
    import psycopg

    name = f"vigil_outage_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def relayed(scratch_db: str) -> AsyncIterator[tuple[httpx.AsyncClient, Relay]]:
    relay = Relay(free_port())
    relay.open()
    url = f"postgresql+psycopg://postgres@127.0.0.1:{relay.port}/{scratch_db}"
    cfg = parse_config(f"store: {{url: '{url}'}}\nserver:\n  api_keys: [{{name: t, key: {API_KEY}}}]\n", env={})
    app, engine = build_app(cfg, clock=FakeClock(T0 + 100), collectors=[])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil.test",
                                 headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        await engine.start()
        try:
            yield client, relay
        finally:
            if not relay.serving:
                relay.open()
            await engine.stop()
            engine.store.close()
            relay.close()
            relay.stop()


async def test_outage_is_503_with_retry_after_and_logged_once(relayed, caplog) -> None:
    client, relay = relayed
    push = {"samples": [{"series": 'cpu{service="web"}', "ts": T0 + i, "value": float(i)} for i in range(10)]}
    assert (await client.post("/api/v1/samples", json=push)).json() == {"written": 10}
    query = {"series": 'cpu{service="web"}', "start": str(T0), "end": str(T0 + 60), "resolution": "raw"}
    assert (await client.get("/api/v1/query", params=query)).json()["count"] == 10

    relay.close()
    caplog.set_level(logging.WARNING)
    calls = [lambda: client.get("/api/v1/query", params=query), lambda: client.get("/api/v1/series"),
             lambda: client.post("/api/v1/samples", json=push), lambda: client.get("/api/v1/services"),
             lambda: client.get("/api/v1/events")]
    for _ in range(4):
        for call in calls:
            r = await call()
            assert r.status_code == 503, r.text
            assert r.headers["Retry-After"] == "5"
            assert r.json()["detail"].startswith("store unavailable (OperationalError); retry in 5 s")
            assert "127.0.0.1" not in r.text and "postgres" not in r.text  # the log has those, not clients
    ready = await client.get("/readyz")
    assert ready.status_code == 503 and "store not reachable" in ready.text
    ours = [rec for rec in caplog.records if rec.name == "vigil.web"]
    assert len(ours) == 1, [rec.getMessage() for rec in ours]
    assert "store unavailable (OperationalError:" in ours[0].getMessage() and ours[0].exc_info is None
    assert not any(rec.exc_info for rec in caplog.records if rec.name.startswith("vigil.web"))

    relay.open()
    for _ in range(20):  # the pool renews its connections on the next use
        r = await client.get("/api/v1/query", params=query)
        if r.status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert r.status_code == 200 and r.json()["count"] == 10
    assert (await client.post("/api/v1/samples", json=push)).json() == {"written": 10}
