"""Incidents over the API: list and read them with their alerts and timeline; acknowledge, resolve,
assign and annotate them. Changes go through the engine's loop as Commands, so they are ordered with
everything else and recorded before the answer; the caller is the API key's name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request

from vigil.engine import NotRecorded, NotRunning
from vigil.incidents import similar
from vigil.incidents.model import Incident, IncidentStatus, Member, TimelineEntry
from vigil.web.auth import ApiKeys
from vigil.web.errors import error_responses
from vigil.web.guardrails import actor_of
from vigil.web.reads import ApiReads
from vigil.web.timeparse import parse_time

STATUSES = ("active", *(s.value for s in IncidentStatus), "all")
IncidentId = Path(ge=1, le=2**31 - 1, description="the incident's number")


def incident_view(inc: Incident, members: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": inc.id, "title": inc.title, "status": inc.status.value, "severity": inc.severity.value,
        "service": inc.service, "services": inc.services, "opened_at": inc.opened_at, "updated_at": inc.updated_at,
        "acknowledged_at": inc.acknowledged_at, "acknowledged_by": inc.acknowledged_by,
        "resolved_at": inc.resolved_at, "resolved_by": inc.resolved_by, "assignee": inc.assignee,
        "reopened": inc.reopened, "root_causes": inc.root_causes, "summary": inc.summary,
        "escalation": inc.escalation}
    if members:
        out["alerts"] = [_member_view(m) for m in sorted(inc.members.values(), key=lambda m: m.joined_at)]
    return out


def _member_view(m: Member) -> dict[str, Any]:
    return {"fingerprint": m.fingerprint, "alertname": m.alertname, "service": m.service, "severity": m.severity,
            "joined_at": m.joined_at, "why": m.why, "firing": m.firing, "changed_at": m.changed_at,
            "summary": m.summary}


def _entry_view(e: TimelineEntry) -> dict[str, Any]:
    return {"ts": e.ts, "kind": e.kind, "actor": e.actor, "message": e.message, "data": e.data}


def incidents_router(engine: Any, keys: ApiKeys, reads: ApiReads) -> APIRouter:
    r = APIRouter(prefix="/api/v1/incidents", dependencies=[Depends(keys)], tags=["incidents"],
                  responses=error_responses(400, 401, 404, 409, 429, 503))
    store = engine.store

    @r.get("", summary="Incidents, newest first")
    @reads.endpoint
    def listing(status: str = Query("active", description="active (open or acknowledged) | open | acknowledged "
                                                            "| resolved | all"),
                service: str | None = None, since: str | None = None,
                limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0, le=1_000_000)) -> dict[str, Any]:
        if status not in STATUSES:
            raise HTTPException(400, detail=f"status must be one of {', '.join(STATUSES)}; found {status!r}")
        try:
            t0 = parse_time(since, engine.clock.now()) if since else None
        except ValueError as exc:
            raise HTTPException(400, detail=str(exc)) from None
        rows = store.incidents(None if status == "all" else status, service, t0, limit + 1, offset)
        return {"incidents": [incident_view(i) for i in rows[:limit]], "offset": offset, "limit": limit,
                "more": len(rows) > limit}

    @r.get("/{incident_id}", summary="One incident with its alerts, timeline and similar past incidents")
    @reads.endpoint
    def one(incident_id: int = IncidentId) -> dict[str, Any]:
        inc = store.incident(incident_id)
        if inc is None:
            raise HTTPException(404, detail=f"no incident {incident_id}")
        return {**incident_view(inc, members=True),
                "timeline": [_entry_view(e) for e in store.incident_timeline(incident_id)],
                "similar": [m.view() for m in similar.find(store, inc)]}

    async def change(request: Request, incident_id: int, action: str, args: dict[str, Any]) -> dict[str, Any]:
        actor = getattr(request.state, "api_key_name", "api")
        started = engine.clock.monotonic()
        try:
            inc = await engine.command("incidents", action, {"id": incident_id, **args}, actor)
        except KeyError as exc:
            raise HTTPException(404, detail=str(exc).strip("'\"")) from None
        except ValueError as exc:
            raise HTTPException(409, detail=str(exc)) from None
        except (NotRunning, NotRecorded) as exc:
            raise HTTPException(503, detail=str(exc), headers={"Retry-After": "5"}) from None
        engine.audit.append(actor_of(request), f"incident.{action}", {"incident": incident_id}, args,
                            {"status": inc.status, "assignee": inc.assignee}, engine.clock.monotonic() - started,
                            incident=incident_id, service=inc.service)
        return incident_view(inc, members=True)

    @r.post("/{incident_id}/acknowledge", summary="Acknowledge: someone is on it")
    async def acknowledge(request: Request, incident_id: int = IncidentId) -> dict[str, Any]:
        return await change(request, incident_id, "acknowledge", {})

    @r.post("/{incident_id}/resolve", summary="Resolve it by hand, with an optional note")
    async def resolve(request: Request, incident_id: int = IncidentId, *,
                      body: dict[str, Any] | None = Body(None, examples=[{"note": "rolled back"}])) -> dict[str, Any]:
        return await change(request, incident_id, "resolve", {"note": (body or {}).get("note")})

    @r.post("/{incident_id}/assign", summary="Assign it to someone")
    async def assign(request: Request, incident_id: int = IncidentId, *,
                     body: dict[str, Any] = Body(..., examples=[{"assignee": "alice"}])) -> dict[str, Any]:
        return await change(request, incident_id, "assign", {"assignee": body.get("assignee")})

    @r.post("/{incident_id}/notes", summary="Add a note to its timeline")
    async def note(request: Request, incident_id: int = IncidentId, *,
                   body: dict[str, Any] = Body(..., examples=[{"text": "looking at the DB"}])) -> dict[str, Any]:
        return await change(request, incident_id, "note", {"text": body.get("text")})

    return r
