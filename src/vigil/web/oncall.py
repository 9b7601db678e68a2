"""On-call over the API: who is on call now (one call, every schedule), a schedule's shifts over a
range, and the escalation policies with the services that use them. Computed from the configuration
(incidents/oncall.py): nothing here reads the store."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from vigil.config.oncall import EscalationPolicy
from vigil.incidents.oncall import MAX_RANGE_S, OnCall, Roster, Shift
from vigil.web.auth import ApiKeys
from vigil.web.errors import error_responses
from vigil.web.timeparse import MAX_TIME_CHARS, parse_time

WEEK_S = 7 * 86400.0


def _at(text: str | None, now: float, name: str) -> float:
    try:
        return parse_time(text, now) if text else now
    except ValueError as exc:
        raise HTTPException(400, detail=f"{name}: {exc}") from None


def shift_view(s: Shift, users: dict[str, Any]) -> dict[str, Any]:
    user = users.get(s.user)
    return {"start": s.start, "end": s.end, "user": s.user, "receiver": user.receiver if user else None,
            "source": s.source}


def now_view(roster: Roster, found: OnCall | None, users: dict[str, Any]) -> dict[str, Any]:
    user = users.get(found.user) if found is not None else None
    return {"schedule": roster.name, "time_zone": roster.schedule.time_zone,
            "user": found.user if found else None, "receiver": user.receiver if user else None,
            "source": found.source if found else None, "since": found.since if found else None,
            "until": found.until if found else None}


def policy_view(p: EscalationPolicy, services: list[str]) -> dict[str, Any]:
    return {"name": p.name, "levels": [{"level": i + 1, "after": lv.after, "notify": list(lv.notify)}
                                       for i, lv in enumerate(p.levels)],
            "repeat_every": p.repeat_every, "max_repeats": p.max_repeats if p.repeat_every else 0,
            "services": services}


def oncall_router(engine: Any, keys: ApiKeys) -> APIRouter:
    r = APIRouter(prefix="/api/v1", dependencies=[Depends(keys)], tags=["on-call"],
                  responses=error_responses(400, 401, 404, 429, 503))
    oncall = engine.config.oncall
    rosters = {s.name: Roster(s) for s in oncall.schedules}
    users = {u.name: u for u in oncall.users}

    @r.get("/oncall", summary="Who is on call now (or at `at`) in every schedule")
    def now(at: str | None = Query(None, max_length=MAX_TIME_CHARS, description="epoch seconds, RFC 3339, "
                                   "'now' or relative like -1h")) -> dict[str, Any]:
        t = _at(at, engine.clock.now(), "at")
        return {"at": t, "schedules": [now_view(ro, ro.current(t), users) for ro in rosters.values()]}

    @r.get("/oncall/{schedule}", summary="A schedule's shifts from `from` to `to` (default: the next 7 days)")
    def shifts(schedule: str = Path(max_length=64, description="the schedule's name"),
               start: str | None = Query(None, alias="from", max_length=MAX_TIME_CHARS),
               end: str | None = Query(None, alias="to", max_length=MAX_TIME_CHARS)) -> dict[str, Any]:
        roster = rosters.get(schedule)
        if roster is None:
            known = ", ".join(rosters) or "none"
            raise HTTPException(404, detail=f"no schedule {schedule!r}; known: {known}")
        now_ = engine.clock.now()
        t0 = _at(start, now_, "from")
        t1 = _at(end, now_, "to") if end else t0 + WEEK_S
        if t1 <= t0:
            raise HTTPException(400, detail="to must be after from")
        if t1 - t0 > MAX_RANGE_S:
            raise HTTPException(400, detail=f"a range is at most {int(MAX_RANGE_S // 86400)} days; ask for "
                                            "several ranges")
        return {"schedule": schedule, "time_zone": roster.schedule.time_zone, "from": t0, "to": t1,
                "shifts": [shift_view(s, users) for s in roster.shifts(t0, t1)]}

    @r.get("/escalation-policies", summary="Escalation policies, each with the services that use it")
    def policies() -> dict[str, Any]:
        of: dict[str, list[str]] = {}
        for svc in engine.config.services:
            if svc.escalation:
                of.setdefault(svc.escalation, []).append(svc.name)
        return {"default_policy": oncall.default_policy,
                "policies": [policy_view(p, of.get(p.name, [])) for p in oncall.escalation_policies]}

    return r

