"""What the dashboard needs beside the REST API: a live feed of what each engine pass recorded, as
server-sent events (`GET /api/v1/events/stream`), and a read-only view of the running configuration
with every secret masked (`GET /api/v1/config`).

The feed is cheap by construction: the engine calls `LiveFeed.on_pass` after each pass (on the event
loop, no I/O); a pass that changed nothing people look at sends nothing; a pass that did is summed up
once (a few counts and at most `MAX_ITEMS` lines of each kind), serialised once, and put on each
client's bounded queue. A client too slow to keep up loses its oldest messages and is told so
(`lost`), never slowing the engine. A comment line every `HEARTBEAT_S` keeps proxies from closing
an idle stream and lets the client see a dead one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse

from vigil.config.redact import MASK, mask, secret_values
from vigil.web.auth import ApiKeys
from vigil.web.errors import error_responses

HEARTBEAT_S = 15.0
QUEUE_SIZE = 64  # messages a client may fall behind by before its oldest are dropped
MAX_CLIENTS = 64
MAX_ITEMS = 20  # lines of each kind in one message: the client refetches what it shows anyway
_CLOSED = b""


def pass_summary(batch: Any) -> dict[str, Any] | None:
    """What one pass changed, in a few lines; None when it changed nothing worth telling."""
    if not (batch.alerts or batch.incidents or batch.decisions or batch.events or batch.probes or batch.samples):
        return None
    return {
        "ts": batch.now,
        "probes": len(batch.probes),
        "samples": len(batch.samples),
        "services": sorted({p.service for p in batch.probes})[:MAX_ITEMS],
        "events": [{"ts": e.ts, "kind": e.kind, "service": e.service, "message": e.message}
                   for e in batch.events[:MAX_ITEMS]],
        "alerts": [{"alertname": a.labels.get("alertname"), "service": a.labels.get("service"),
                    "status": a.status.value} for a in batch.alerts[:MAX_ITEMS]],
        "incidents": [{"id": i.id, "status": i.status.value, "severity": i.severity.value, "title": i.title}
                      for i in batch.incidents[:MAX_ITEMS]],
        "decisions": [{"kind": d.kind, "subject": d.subject, "rule": d.rule} for d in batch.decisions[:MAX_ITEMS]],
        # each remediation action's move in this pass: its new state and why (a verification verdict
        # included: "verified: steady for 10s ...", "not verified within 90s ...")
        "actions": [{"id": d.inputs.get("action"), "service": d.subject, "runbook": d.inputs.get("runbook"),
                     "from": d.inputs.get("from"), "state": d.rule, "note": d.result.get("note", "")}
                    for d in batch.decisions if d.kind == "action"][:MAX_ITEMS],
    }


class LiveFeed:
    """The engine's passes, fanned out to every connected dashboard."""

    def __init__(self) -> None:
        self._clients: set[asyncio.Queue[bytes]] = set()
        self.closed = False
        self.sent = 0

    @property
    def clients(self) -> int:
        return len(self._clients)

    def on_pass(self, batch: Any) -> None:
        if not self._clients:
            return
        summary = pass_summary(batch)
        if summary is not None:
            self.publish("pass", summary)

    def publish(self, event: str, data: dict[str, Any]) -> None:
        message = b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
        for q in self._clients:
            if q.full():  # slow client: drop its oldest, and say so in the next message it reads
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
                with contextlib.suppress(asyncio.QueueFull):
                    q.put_nowait(b"event: lost\ndata: {}\n\n")
                continue
            q.put_nowait(message)
        self.sent += 1

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        self.closed = True
        for q in self._clients:
            with contextlib.suppress(asyncio.QueueEmpty):
                while q.full():
                    q.get_nowait()
            q.put_nowait(_CLOSED)

    async def stream(self, request: Request) -> AsyncIterator[bytes]:
        q: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_SIZE)
        self._clients.add(q)
        try:
            yield b"retry: 3000\nevent: hello\ndata: {}\n\n"
            while not self.closed:
                try:
                    message = await asyncio.wait_for(q.get(), HEARTBEAT_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield b": heartbeat\n\n"
                    continue
                if not message:  # _CLOSED
                    return
                yield message
        finally:
            self._clients.discard(q)


def masked_config(config: Any) -> Any:
    """The configuration as JSON data, secrets shown as ***: SecretStr fields, URL credentials,
    secret query parameters and any secret value that appears inside another string."""
    secrets = secret_values(config)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return MASK if value == "**********" else mask(value, secrets)  # pydantic's SecretStr dump
        return value

    return walk(config.model_dump(mode="json"))


def live_router(engine: Any, keys: ApiKeys, feed: LiveFeed) -> APIRouter:
    r = APIRouter(prefix="/api/v1", dependencies=[Depends(keys)], tags=["dashboard"],
                  responses=error_responses(401, 429, 503))

    # Left out of the OpenAPI description: a stream that never ends is no request/response operation,
    # and a client generated from the description (or a fuzzer) would wait on it forever.
    # docs/dashboard.md describes it.
    @r.get("/events/stream", include_in_schema=False)
    async def stream(request: Request) -> StreamingResponse:
        """`hello` at once, then a `pass` event after each engine pass that changed something (what it
        recorded, in short), `lost` when this client fell behind, a heartbeat comment every 15 s."""
        # Only for a client that says it reads a stream (browsers' EventSource does, the dashboard does): any
        # other (a script, a test client waiting for the whole body) is told at once rather than kept forever.
        if "text/event-stream" not in request.headers.get("accept", ""):
            raise HTTPException(406, detail="this endpoint answers only a stream of server-sent events; send "
                                            "'Accept: text/event-stream' and read the answer as it comes")
        if feed.clients >= MAX_CLIENTS:
            raise HTTPException(503, detail=f"at most {MAX_CLIENTS} live streams at a time; close one, or poll "
                                            "the REST endpoints", headers={"Retry-After": "30"})
        return StreamingResponse(feed.stream(request), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @r.get("/config", summary="The running configuration, read-only, with every secret masked as ***")
    def config() -> dict[str, Any]:
        return {"config": masked_config(engine.config)}

    return r
