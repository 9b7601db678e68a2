"""Silences, alerts and notifications over the API, in vigil's own shape under /api/v1 and in
Alertmanager's under /api/v2, so `amtool` works against vigil (`amtool --alertmanager.url=...`):

- /api/v1/silences (list, create, get, expire), /api/v2/silences and /api/v2/silence/{id};
- GET /api/v2/alerts (firing alerts with their receivers and whether silenced or inhibited),
  GET /api/v2/alerts/groups, GET /api/v2/status;
- /api/v1/notifications: the outbox's rows with their delivery state, dead letters, re-queueing,
  and each endpoint's circuit breaker.

Creating and expiring silences goes through the engine's loop as a command (recorded, with who)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request

from vigil import __version__
from vigil.engine import NotRecorded, NotRunning
from vigil.incidents.matchers import MatcherError, format_matchers, matches_all, parse_matchers
from vigil.incidents.silences import Silence
from vigil.model import Alert
from vigil.sources.alerts_in import parse_time
from vigil.web.auth import ApiKeys
from vigil.web.errors import error_responses
from vigil.web.guardrails import actor_of
from vigil.web.reads import ApiReads

STARTED = time.time()
SILENCE_STATES = ("pending", "active", "expired")
OUTBOX_STATES = ("pending", "sending", "delivered", "dead", "skipped")
_MATCHER = {"type": "object", "required": ["name", "value"], "properties": {
    "name": {"type": "string", "maxLength": 256}, "value": {"type": "string", "maxLength": 4096},
    "isRegex": {"type": "boolean"}, "isEqual": {"type": "boolean"}}}
_SILENCE_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["matchers", "endsAt"], "properties": {
        "id": {"type": "string"}, "matchers": {"type": "array", "minItems": 1, "maxItems": 64, "items": _MATCHER},
        "startsAt": {"type": "string", "format": "date-time"}, "endsAt": {"type": "string", "format": "date-time"},
        "createdBy": {"type": "string", "maxLength": 256}, "comment": {"type": "string", "maxLength": 4096}}}}}}}


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"
    except (OverflowError, OSError, ValueError):  # a time the platform cannot show: say so, do not fail
        return None


def silence_v2(s: Silence, now: float) -> dict[str, Any]:
    """Alertmanager's gettableSilence."""
    return {"id": s.id, "matchers": [m.to_dict() for m in s.matchers], "startsAt": _iso(s.starts_at),
            "endsAt": _iso(s.ends_at), "updatedAt": _iso(s.updated_at), "createdBy": s.created_by,
            "comment": s.comment, "status": {"state": s.state(now)}}


def silence_v1(s: Silence, now: float) -> dict[str, Any]:
    return {"id": s.id, "matchers": format_matchers(s.matchers), "starts_at": s.starts_at, "ends_at": s.ends_at,
            "updated_at": s.updated_at, "created_by": s.created_by, "comment": s.comment, "state": s.state(now)}


def alerting_router(engine: Any, keys: ApiKeys, reads: ApiReads) -> APIRouter:
    r = APIRouter(dependencies=[Depends(keys)], tags=["silences and notifications"],
                  responses=error_responses(400, 401, 404, 409, 429, 503))

    def router() -> Any:
        found = engine.stages.route.router
        if found is None:
            raise HTTPException(404, detail="no alerting route is configured (alerting.route in vigil.yaml)")
        return found

    async def command(request: Request, action: str, args: dict[str, Any]) -> Any:
        started = engine.clock.monotonic()
        try:
            done = await engine.command("route", action, args, getattr(request.state, "api_key_name", "api"))
            engine.audit.append(actor_of(request), f"silence.{'create' if action == 'silence' else action}",
                                args.get("comment") or "by hand", args,
                                {"id": done.id, "ends_at": done.ends_at}, engine.clock.monotonic() - started)
            return done
        except KeyError as exc:
            raise HTTPException(404, detail=str(exc).strip("'\"")) from None
        except LookupError as exc:
            raise HTTPException(404, detail=str(exc)) from None
        except ValueError as exc:
            raise HTTPException(400, detail=str(exc)) from None
        except (NotRunning, NotRecorded) as exc:
            raise HTTPException(503, detail=str(exc), headers={"Retry-After": "5"}) from None

    def listed(state: str | None) -> list[Silence]:
        if state is not None and state not in SILENCE_STATES:
            raise HTTPException(400, detail=f"state must be one of {', '.join(SILENCE_STATES)}; found {state[:20]!r}")
        return router().silences.list(engine.clock.now(), state)

    # ------------------------------------------------------------------------------ vigil's shape

    @r.get("/api/v1/silences", summary="Silences, newest first")
    @reads.endpoint
    def silences(state: str | None = Query(None, max_length=20, description="pending | active | expired")
                 ) -> dict[str, Any]:
        now = engine.clock.now()
        return {"silences": [silence_v1(s, now) for s in listed(state)]}

    @r.post("/api/v1/silences", summary="Create a silence: matchers, an end (never forever), why",
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["matchers", "ends_at", "comment"], "properties": {
                    "matchers": {"type": "string", "maxLength": 4096, "example": '{service="payments"}'},
                    "starts_at": {"type": ["number", "string"]}, "ends_at": {"type": ["number", "string"]},
                    "comment": {"type": "string", "maxLength": 4096}}}}}}})
    async def create(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        now = engine.clock.now()
        try:
            starts, ends = parse_time(body.get("starts_at"), "starts_at"), parse_time(body.get("ends_at"), "ends_at")
        except ValueError as exc:
            raise HTTPException(400, detail=str(exc)) from None
        silence = await command(request, "silence", {"matchers": str(body.get("matchers") or ""), "starts_at": starts,
                                                     "ends_at": ends, "comment": body.get("comment") or ""})
        return silence_v1(silence, now)

    @r.get("/api/v1/silences/{silence_id}", summary="One silence")
    @reads.endpoint
    def silence(silence_id: str = Path(max_length=64)) -> dict[str, Any]:
        return silence_v1(_get(router(), silence_id), engine.clock.now())

    @r.delete("/api/v1/silences/{silence_id}", summary="Expire a silence now")
    async def expire(request: Request, silence_id: str = Path(max_length=64)) -> dict[str, Any]:
        return silence_v1(await command(request, "expire", {"id": silence_id}), engine.clock.now())

    # ------------------------------------------------------------------------------ Alertmanager's

    @r.get("/api/v2/silences", summary="Silences (Alertmanager API v2, for amtool)")
    def silences_v2(filter: list[str] = Query([], max_length=64, description="matchers, e.g. service=\"x\"")
                    ) -> list[dict[str, Any]]:
        now = engine.clock.now()
        wanted = _matchers(filter)
        return [silence_v2(s, now) for s in listed(None)
                if all(any(m == w for m in s.matchers) for w in wanted)]

    @r.post("/api/v2/silences", summary="Create or replace a silence (Alertmanager API v2)",
            openapi_extra=_SILENCE_BODY)
    async def create_v2(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, str]:
        now = engine.clock.now()
        try:
            starts, ends = parse_time(body.get("startsAt"), "startsAt"), parse_time(body.get("endsAt"), "endsAt")
            matchers = body.get("matchers")
            if not isinstance(matchers, list) or not all(isinstance(m, dict) for m in matchers):
                raise ValueError("matchers must be a list of {name, value, isRegex, isEqual}")
        except ValueError as exc:
            raise HTTPException(400, detail=str(exc)) from None
        if body.get("id"):  # Alertmanager replaces a silence by expiring the old one
            await command(request, "expire", {"id": str(body["id"])[:64]})
        silence = await command(request, "silence", {"matchers": matchers, "starts_at": starts, "ends_at": ends,
                                                     "created_by": str(body.get("createdBy") or "")[:256],
                                                     "comment": str(body.get("comment") or "")})
        del now
        return {"silenceID": silence.id}

    @r.get("/api/v2/silence/{silence_id}", summary="One silence (Alertmanager API v2)")
    def silence_v2_one(silence_id: str = Path(max_length=64)) -> dict[str, Any]:
        return silence_v2(_get(router(), silence_id), engine.clock.now())

    @r.delete("/api/v2/silence/{silence_id}", summary="Expire a silence (Alertmanager API v2)")
    async def expire_v2(request: Request, silence_id: str = Path(max_length=64)) -> dict[str, str]:
        await command(request, "expire", {"id": silence_id})
        return {}

    @r.get("/api/v2/alerts", summary="Firing alerts with receivers and mute state (Alertmanager API v2)")
    def alerts_v2(filter: list[str] = Query([], max_length=64), active: bool = True, silenced: bool = True,
                  inhibited: bool = True) -> list[dict[str, Any]]:
        now, found = engine.clock.now(), engine.stages.route.router
        wanted = _matchers(filter)
        out = []
        # A copy taken in one C call: this runs on a thread while the loop adds alerts to the dict.
        for a in list(engine.stages.book.firing.values()):
            if wanted and not matches_all(wanted, a.labels):
                continue
            view = _alert_v2(a, found, now)
            state = view["status"]["state"]
            if (state == "active" and active) or (state == "suppressed" and (
                    (view["status"]["silencedBy"] and silenced) or (view["status"]["inhibitedBy"] and inhibited))):
                out.append(view)
        return sorted(out, key=lambda v: v["fingerprint"])

    @r.get("/api/v2/alerts/groups", summary="Alert groups as the route tree makes them (Alertmanager API v2)")
    def groups_v2() -> list[dict[str, Any]]:
        now = engine.clock.now()
        return [{"labels": g.labels, "receiver": {"name": g.receiver},
                 "alerts": [_alert_v2(a, router(), now) for a in g.alerts]} for g in router().groups()]

    @r.get("/api/v2/status", summary="Status (Alertmanager API v2, enough for amtool)")
    def status_v2() -> dict[str, Any]:
        return {"cluster": {"status": "disabled", "peers": []}, "uptime": _iso(STARTED),
                "versionInfo": {"version": f"vigil-{__version__}", "branch": "", "buildDate": "", "buildUser": "",
                                "goVersion": "", "revision": ""},
                "config": {"original": "# vigil serves this API; its configuration is vigil.yaml\n"}}

    @r.post("/-/reload", summary="Read the configuration file again and apply its alerting section (as "
                                 "Alertmanager does on SIGHUP)")
    async def reload(request: Request) -> dict[str, Any]:
        reloader = getattr(request.app.state, "reload", None)
        if reloader is None:
            raise HTTPException(409, detail="this vigil was not started from a configuration file (vigil up -c)")
        problems = await reloader(getattr(request.state, "api_key_name", "api"))
        if problems:
            raise HTTPException(400, detail={"error": "the configuration has problems; nothing changed",
                                             "errors": [{"error": p} for p in problems]})
        return {"reloaded": "alerting"}

    # ------------------------------------------------------------------------------ notifications

    def outbox() -> Any:
        found = engine.stages.notify.outbox
        if found is None:
            raise HTTPException(404, detail="no notifications are configured (alerting.route and receivers)")
        return found

    @r.get("/api/v1/notifications", summary="Notifications with their delivery state, newest first")
    @reads.endpoint
    def notifications(state: str | None = Query(None, max_length=20),
                      receiver: str | None = Query(None, max_length=256),
                      limit: int = Query(100, ge=1, le=1000),
                      before_id: int | None = Query(None, ge=1, le=2**62)) -> dict[str, Any]:
        if state is not None and state not in OUTBOX_STATES:
            raise HTTPException(400, detail=f"state must be one of {', '.join(OUTBOX_STATES)}; found {state[:20]!r}")
        outbox()
        rows = engine.store.outbox_entries(state=state, receiver=receiver, limit=limit, before_id=before_id)
        return {"notifications": [row.as_dict() for row in rows], "counts": engine.store.outbox_counts()}

    @r.get("/api/v1/notifications/endpoints", summary="Each receiver endpoint: queue and circuit breaker")
    def endpoints() -> dict[str, Any]:
        now = engine.clock.now()
        box = outbox()
        return {**box.snapshot(now), "breakers": box.breakers(now)}

    @r.post("/api/v1/notifications/requeue", summary="Dead letters back in line",
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["ids"], "properties": {"ids": {
                    "type": "array", "maxItems": 1000, "items": {"type": "integer", "minimum": 1,
                                                                  "maximum": 2**62}}}}}}}})
    async def requeue(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        ids = body.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**62
                                                for i in ids) or len(ids) > 1000:
            raise HTTPException(400, detail="ids must be a list of at most 1000 notification ids")
        started = engine.clock.monotonic()
        result = await outbox().requeue(ids, engine.clock.now())
        engine.audit.append(actor_of(request), "notification.requeue", "dead letters back in line", {"ids": ids},
                            {"requeued": result.requeued, "refused": result.refused},
                            engine.clock.monotonic() - started)
        return {"requeued": result.requeued, "refused": {str(k): v for k, v in result.refused.items()}}

    return r


def _get(router: Any, silence_id: str) -> Silence:
    try:
        return router.silences.get(silence_id)
    except KeyError:
        raise HTTPException(404, detail=f"no silence {silence_id}") from None


def _matchers(texts: list[str]) -> list[Any]:
    try:
        return [m for t in texts for m in parse_matchers(t)]
    except MatcherError as exc:
        raise HTTPException(400, detail=f"bad filter: {exc}") from None


def _alert_v2(a: Alert, router: Any, now: float) -> dict[str, Any]:
    """Alertmanager's gettableAlert."""
    silenced = router.silences.silenced_by(a.labels, now) if router is not None else []
    inhibited = router.inhibitor.mutes(a, now) if router is not None else False
    return {"labels": a.labels, "annotations": a.annotations, "startsAt": _iso(a.starts_at),
            "endsAt": _iso(a.ends_at) or "0001-01-01T00:00:00.000Z", "updatedAt": _iso(now),
            "fingerprint": a.fingerprint, "generatorURL": a.generator_url,
            "receivers": [{"name": n} for n in (router.receivers_for(a.labels) if router is not None else [])],
            "status": {"state": "suppressed" if silenced or inhibited else "active", "silencedBy": silenced,
                       "inhibitedBy": ["inhibited"] if inhibited else []}}
