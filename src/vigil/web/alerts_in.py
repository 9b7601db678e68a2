"""Endpoints that take alerts from outside (parsing in `sources.alerts_in`), each answering as the
system it stands in for, so senders work unchanged:

- `POST /api/v2/alerts`: Alertmanager's API (point Prometheus' `alerting.alertmanagers` at vigil);
- `POST /api/v1/alerts/webhook`: an existing Alertmanager's webhook receiver (payload version 4);
- `POST /api/v1/alerts/pagerduty` and `POST /v2/enqueue`: PagerDuty's Events API v2;
- `POST /api/v1/alerts`: vigil's own generic shape.

Each answers once the alerts are recorded by a pass of the engine; a store failure answers 503 (the
sender retries), a malformed payload 400 naming each bad item."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from vigil.engine import NotRecorded, NotRunning
from vigil.pipeline import AlertsIn
from vigil.sources import alerts_in as parse
from vigil.web.alerts_schema import (
    GENERIC_ALERT,
    PAGERDUTY_ANSWER,
    PAGERDUTY_EVENT,
    POSTABLE_ALERT,
    WEBHOOK,
    body,
    listed,
)
from vigil.web.auth import ApiKeys
from vigil.web.errors import error_responses

MAX_BODY = 16 * 1024 * 1024
OFF_LOOP_ABOVE = 64 * 1024  # bodies larger than this are parsed on a worker thread


async def _json(request: Request) -> Any:
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > MAX_BODY:
        raise HTTPException(413, detail=f"body too large: {size} bytes, at most {MAX_BODY}")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, detail=f"body too large: {len(body)} bytes, at most {MAX_BODY}")
    try:
        return await run_in_threadpool(orjson.loads, body) if len(body) > OFF_LOOP_ABOVE else orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, detail={"error": "body is not valid JSON", "errors": [{"error": str(exc)}]}) from None


async def _take(engine: Any, parsed: parse.Parsed) -> None:
    try:
        await engine.submit_alerts(AlertsIn(parsed.alerts, parsed.events))
    except NotRunning as exc:
        raise HTTPException(503, detail=str(exc), headers={"Retry-After": "5"}) from None
    except NotRecorded as exc:
        raise HTTPException(503, detail=str(exc), headers={"Retry-After": "5"}) from None


def _bad(exc: parse.AlertPayloadError) -> HTTPException:
    return HTTPException(400, detail={"error": exc.message, "errors": exc.errors})


def alerts_in_router(engine: Any, keys: ApiKeys) -> APIRouter:
    # Alertmanager's global.resolve_timeout: an alert sent without an end fires this long after it was last sent
    resolve_timeout = float(engine.config.alerting.global_.resolve_timeout)
    r = APIRouter(dependencies=[Depends(keys)], tags=["alerts in"],
                  responses=error_responses(400, 401, 413, 429, 503))

    def parsed(fn: Callable[..., parse.Parsed], doc: Any, *args: Any) -> parse.Parsed:
        try:
            return fn(doc, engine.clock.now(), *args)
        except parse.AlertPayloadError as exc:
            raise _bad(exc) from None

    @r.post("/api/v2/alerts", summary="Alertmanager API v2: post alerts (what Prometheus sends)",
            openapi_extra=body(listed(POSTABLE_ALERT)), response_class=Response,
            responses={200: {"description": "Taken (an empty body, as Alertmanager answers)"}})
    async def alertmanager_api(request: Request) -> Response:
        result = parsed(parse.parse_alertmanager_api, await _json(request), resolve_timeout)
        await _take(engine, result)
        if result.errors:  # the valid ones were taken, as Alertmanager does
            raise HTTPException(400, detail={"error": f"{len(result.errors)} invalid alert(s) left out; "
                                                      f"{len(result.alerts)} taken", "errors": result.errors})
        return Response(status_code=200)

    @r.post("/api/v1/alerts/webhook", summary="Alertmanager webhook receiver (payload version 4)",
            openapi_extra=body(WEBHOOK))
    async def alertmanager_webhook(request: Request) -> dict[str, int]:
        result = parsed(parse.parse_alertmanager_webhook, await _json(request))
        await _take(engine, result)
        return {"taken": len(result.alerts)}

    async def pagerduty(request: Request) -> JSONResponse:
        firing = {a.labels["dedup_key"]: a for a in engine.stages.book.firing.values()
                  if a.source == "ingest:pagerduty" and "dedup_key" in a.labels}
        try:
            doc = await _json(request)
        except HTTPException as exc:
            if exc.status_code != 400:
                raise
            return JSONResponse({"status": "invalid event", "message": "the body is not valid JSON", "errors": []},
                                status_code=400)
        try:
            result, key = parse.parse_pagerduty(doc, engine.clock.now(), firing)
        except parse.AlertPayloadError as exc:
            return JSONResponse({"status": "invalid event", "message": exc.message, "errors": exc.errors},
                                status_code=400)
        await _take(engine, result)
        return JSONResponse({"status": "success", "message": "Event processed", "dedup_key": key}, status_code=202)

    for path, what in (("/api/v1/alerts/pagerduty", "PagerDuty Events API v2: trigger, acknowledge, resolve"),
                       ("/v2/enqueue", "PagerDuty Events API v2 at PagerDuty's own path")):
        r.add_api_route(path, pagerduty, methods=["POST"], status_code=202, summary=what,
                        openapi_extra=body(PAGERDUTY_EVENT), response_class=JSONResponse,
                        responses={202: {"description": "Event processed", "content": {"application/json": {
                                             "schema": PAGERDUTY_ANSWER}}},
                                   400: {"description": "Invalid event (PagerDuty's own answer)", "content": {
                                       "application/json": {"schema": PAGERDUTY_ANSWER}}}})

    @r.post("/api/v1/alerts", summary="Post alerts in vigil's generic shape",
            openapi_extra=body(listed(GENERIC_ALERT, "alerts")))
    async def generic(request: Request) -> dict[str, int]:
        result = parsed(parse.parse_generic, await _json(request))
        await _take(engine, result)
        return {"taken": len(result.alerts)}

    return r
