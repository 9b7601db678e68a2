"""The guard rails over the API: the audit log (GET /api/v1/audit), the kill switch
(GET/POST /api/v1/automation) and the circuit breakers of vigil's calls to the outside
(GET /api/v1/breakers)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request

from vigil.model import MAX_NAME_CHARS
from vigil.web.auth import ApiKeys
from vigil.web.errors import error_responses
from vigil.web.reads import ApiReads
from vigil.web.timeparse import parse_time

MAX_PAGE = 1000
MAX_QUERY_TEXT = 200


def actor_of(request: Request) -> str:
    """Who made an API request, as the audit log names it."""
    return f"key:{getattr(request.state, 'api_key_name', 'api')}"


def guardrails_router(engine: Any, keys: ApiKeys, reads: ApiReads) -> APIRouter:
    r = APIRouter(prefix="/api/v1", tags=["guard rails"], dependencies=[Depends(keys)],
                  responses=error_responses(401, 429, 503))

    @r.get("/audit", summary="Audit records, newest first: every decision and action, who, why, inputs, result",
           responses=error_responses(400))
    @reads.endpoint
    def audit(actor: str | None = Query(None, max_length=MAX_NAME_CHARS, description="engine, key:NAME, ..."),
              action: str | None = Query(None, max_length=MAX_NAME_CHARS, description="e.g. scale, incident.resolve"),
              service: str | None = Query(None, max_length=MAX_NAME_CHARS),
              incident: int | None = Query(None, ge=1, le=2**31 - 1),
              since: str | None = Query(None, max_length=64, description="epoch s, RFC 3339 or relative like -1h"),
              until: str | None = Query(None, max_length=64),
              q: str | None = Query(None, max_length=MAX_QUERY_TEXT,
                                    description="plain text (no pattern) looked for in actor, action, reason, "
                                                "inputs and result"),
              limit: int = Query(100, ge=1, le=MAX_PAGE),
              before_id: int | None = Query(None, ge=1, le=2**62, description="the next page: records older "
                                            "than this id (next_before_id of the previous page)")
              ) -> dict[str, Any]:
        now = engine.clock.now()
        try:
            t0 = parse_time(since, now) if since is not None else None
            t1 = parse_time(until, now) if until is not None else None
        except ValueError as exc:
            raise HTTPException(400, detail=str(exc)) from None
        if t0 is not None and t1 is not None and t1 < t0:
            raise HTTPException(400, detail=f"until ({until}) is before since ({since})")
        found = engine.audit.records(actor=actor, action=action, service=service, incident=incident, since=t0,
                                     until=t1, text=q or None, before_id=before_id, limit=limit)
        return {"records": [rec.view() for rec in found],
                "next_before_id": found[-1].id if len(found) == limit else None}

    @r.get("/automation", summary="The kill switch: are automatic actions paused, by whom, since when, why")
    def automation() -> dict[str, Any]:
        return engine.automation.state.view()

    @r.post("/automation", summary="Pause or resume every automatic action at once (audited)",
            responses=error_responses(400),
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["paused"], "properties": {
                    "paused": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 1000}}}}}}})
    async def set_automation(request: Request, body: Any = Body(...)) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("paused"), bool):
            raise HTTPException(400, detail='send {"paused": true|false, "reason": "..."}; paused must be a boolean')
        reason = body.get("reason") or ""
        if not isinstance(reason, str) or len(reason) > 1000:
            raise HTTPException(400, detail="reason must be a string of at most 1000 characters")
        unknown = sorted(set(body) - {"paused", "reason"})
        if unknown:
            raise HTTPException(400, detail=f"unknown fields: {', '.join(k[:40] for k in unknown[:5])}; "
                                            "expected paused and reason")
        state = await engine.automation.set(body["paused"], actor_of(request), reason)
        return state.view()

    @r.get("/breakers", summary="Circuit breakers of vigil's calls to the outside (actuators, webhooks, "
                                "notification endpoints)")
    def breakers() -> dict[str, Any]:
        return {"breakers": engine.breakers.snapshot(engine.clock.now())}

    return r
