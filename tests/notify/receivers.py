"""Real receivers on free loopback ports: an HTTP server that records every request (Slack, Discord,
webhook and PagerDuty stand-ins) and can be scripted to answer errors, hang, or go down and come back
on the same port."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class HttpReceiver:
    ok_status: int = 200
    ok_body: str = "ok"
    port: int = 0
    requests: list[Request] = field(default_factory=list)  # the ones answered 2xx
    arrivals: list[Request] = field(default_factory=list)  # every one that arrived, whatever the answer
    answers: deque[tuple[int, str]] = field(default_factory=deque)  # the next answers, then ok
    hold: asyncio.Event | None = None
    delay: float = 0.0  # a slow receiver: each answer this long after the request arrived
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, status: int, body: str = "", times: int = 1) -> None:
        self.answers.extend([(status, body)] * times)

    def bodies(self, path: str | None = None) -> list[Any]:
        return [r.body for r in self.requests if path is None or r.path == path]

    def keys(self, every: bool = False) -> list[str]:
        """Idempotency keys of the accepted requests (or of every arrival), in order."""
        return [r.headers.get("Idempotency-Key", "") for r in (self.arrivals if every else self.requests)]

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = raw.decode(errors="replace")
        seen = Request(request.path_qs, dict(request.headers), body)
        self.arrivals.append(seen)
        if self.hold is not None:
            await self.hold.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        status, text = self.answers.popleft() if self.answers else (self.ok_status, self.ok_body)
        if 200 <= status < 300:  # recorded only when accepted, as a real receiver keeps what it took
            self.requests.append(seen)
        return web.Response(status=status, text=text if status != 204 else None)

    async def start(self) -> HttpReceiver:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
