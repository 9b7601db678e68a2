"""Runbooks and remediation actions over the API: the configured runbooks, actions with their state
machine, steps and verification verdict (`?state=pending`: the approvals waiting, with their expiry;
`?incident=N`: one incident's), and approve or deny
(through the engine's loop as a Command, so the decision is ordered with everything else and
recorded with who: the API key's name, and `by` when the body names a person)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request

from vigil.engine import NotRecorded, NotRunning
from vigil.heal.ledger import STATES
from vigil.heal.verification import action_view
from vigil.heal.windows import configured_windows, window_views
from vigil.web.auth import ApiKeys
from vigil.web.errors import error_responses
from vigil.web.reads import ApiReads

ActionId = Path(ge=1, le=2**31 - 1, description="the action's number")


def runbook_view(rb: Any, guards: Any) -> dict[str, Any]:
    return {"name": rb.name, "description": rb.description, "mode": rb.mode,
            "trigger": rb.trigger.model_dump(mode="json", by_alias=True),
            "steps": [s.action for s in rb.steps], "rollback": [s.action for s in rb.rollback],
            "verify": rb.verify.model_dump(mode="json", by_alias=True), "guards": guards.model_dump(mode="json")}


def remediation_router(engine: Any, keys: ApiKeys, reads: ApiReads) -> APIRouter:
    r = APIRouter(prefix="/api/v1", dependencies=[Depends(keys)], tags=["remediation"],
                  responses=error_responses(400, 401, 404, 409, 429, 503))
    store = engine.store
    cfg = engine.config

    @r.get("/runbooks", summary="The runbooks configured, with the guard rails each acts under")
    def runbooks() -> dict[str, Any]:
        return {"runbooks": [runbook_view(rb, cfg.remediation.resolve(rb.guards)) for rb in cfg.runbooks]}

    windows = configured_windows(cfg, getattr(engine.stages, "route", None))

    @r.get("/maintenance", summary="Maintenance windows: those runbooks opened (open now) and those configured "
                                   "(alerting.maintenance_windows), with whether each is open")
    def maintenance() -> dict[str, Any]:
        now = engine.clock.now()
        return {"windows": window_views(store.maintenance_windows(now), windows(), now)}

    @r.get("/actions", summary="Remediation actions, newest first (state=pending: approvals waiting)")
    @reads.endpoint
    def listing(state: str | None = Query(None, description=f"one of {', '.join(STATES)}, or unfinished"),
                service: str | None = None,
                incident: int | None = Query(None, ge=1, le=2**31 - 1, description="only this incident's actions"),
                limit: int = Query(50, ge=1, le=1000)) -> dict[str, Any]:
        if state is not None and state not in (*STATES, "unfinished"):
            raise HTTPException(400, detail=f"state must be one of {', '.join(STATES)} or unfinished; found {state!r}")
        return {"actions": [action_view(a) for a in store.actions(state, service, None, limit, incident=incident)]}

    @r.get("/actions/{action_id}", summary="One action with its steps, story and verification verdict")
    @reads.endpoint
    def one(action_id: int = ActionId) -> dict[str, Any]:
        a = store.action(action_id)
        if a is None:
            raise HTTPException(404, detail=f"no action {action_id}")
        return action_view(a)

    async def decide(request: Request, action_id: int, what: str, body: dict[str, Any] | None) -> dict[str, Any]:
        key = actor = getattr(request.state, "api_key_name", "api")
        by = (body or {}).get("by")
        if by is not None:
            if not isinstance(by, str) or not by.strip() or len(by) > 200:
                raise HTTPException(400, detail="by must be a person's name (1 to 200 characters)")
            by = by.strip()
            actor = f"{by} (key {actor})"
        try:
            out: dict[str, Any] = await engine.command("remediate", what, {"id": action_id, "key": key, "by": by},
                                                       actor)
        except KeyError as exc:
            raise HTTPException(404, detail=str(exc).strip("'\"")) from None
        except LookupError as exc:  # no remediate stage: no runbooks configured
            raise HTTPException(404, detail=str(exc)) from None
        except ValueError as exc:
            raise HTTPException(409, detail=str(exc)) from None
        except (NotRunning, NotRecorded) as exc:
            raise HTTPException(503, detail=str(exc), headers={"Retry-After": "5"}) from None
        return out

    @r.post("/actions/{action_id}/approve", summary="Approve a pending action (it starts at once)")
    async def approve(request: Request, action_id: int = ActionId,
                      body: dict[str, Any] | None = Body(None, examples=[{"by": "alice"}])) -> dict[str, Any]:
        return await decide(request, action_id, "approve", body)

    @r.post("/actions/{action_id}/deny", summary="Deny a pending action (it never runs)")
    async def deny(request: Request, action_id: int = ActionId,
                   body: dict[str, Any] | None = Body(None, examples=[{"by": "alice"}])) -> dict[str, Any]:
        return await decide(request, action_id, "deny", body)

    return r
