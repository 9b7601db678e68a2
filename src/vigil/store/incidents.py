"""Incidents in the store: the incident rows (rewritten as they change), their member alerts and
their timeline (appended). Plain rows; JSON columns hold the open-ended parts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from vigil.incidents.model import Incident, IncidentStatus, Member, TimelineEntry
from vigil.model import Severity
from vigil.store.db import upsert
from vigil.store.schema import incident_members, incident_timeline, incidents

_INCIDENT_COLUMNS = ["status", "title", "service", "severity", "opened_at", "updated_at", "acknowledged_at",
                     "acknowledged_by", "resolved_at", "resolved_by", "assignee", "reopened", "services",
                     "root_causes", "summary", "escalation"]
_MEMBER_COLUMNS = ["alertname", "service", "severity", "joined_at", "why", "firing", "changed_at", "summary"]


def _json(v: Any) -> str:
    return orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()


def write(conn: sa.Connection, dialect: str, changed: Sequence[Incident], members: Sequence[Member],
          timeline: Sequence[TimelineEntry]) -> None:
    rows = {i.id: {"id": i.id, "status": i.status.value, "title": i.title, "service": i.service,
                   "severity": Severity(i.severity).value, "opened_at": i.opened_at, "updated_at": i.updated_at,
                   "acknowledged_at": i.acknowledged_at, "acknowledged_by": i.acknowledged_by,
                   "resolved_at": i.resolved_at, "resolved_by": i.resolved_by, "assignee": i.assignee,
                   "reopened": i.reopened, "services": _json(i.services), "root_causes": _json(i.root_causes),
                   "summary": i.summary, "escalation": _json(i.escalation)} for i in changed}
    if rows:
        conn.execute(upsert(dialect, incidents, ["id"], _INCIDENT_COLUMNS), list(rows.values()))
    mrows = {(m.incident, m.fingerprint): {
        "incident_id": m.incident, "fingerprint": m.fingerprint, "alertname": m.alertname, "service": m.service,
        "severity": m.severity, "joined_at": m.joined_at, "why": m.why, "firing": m.firing,
        "changed_at": m.changed_at, "summary": m.summary} for m in members}
    if mrows:
        conn.execute(upsert(dialect, incident_members, ["incident_id", "fingerprint"], _MEMBER_COLUMNS),
                     list(mrows.values()))
    if timeline:
        conn.execute(sa.insert(incident_timeline), [
            {"incident_id": e.incident, "ts": e.ts, "kind": e.kind, "actor": e.actor, "message": e.message,
             "data": _json(e.data)} for e in timeline])


def _incident(r: Any) -> Incident:
    return Incident(r.id, r.title, IncidentStatus(r.status), Severity(r.severity), r.service, r.opened_at,
                    r.updated_at, orjson.loads(r.services), r.acknowledged_at, r.acknowledged_by, r.resolved_at,
                    r.resolved_by, r.assignee, r.reopened, orjson.loads(r.root_causes), r.summary,
                    orjson.loads(r.escalation))


def _member(r: Any) -> Member:
    return Member(r.incident_id, r.fingerprint, r.alertname, r.service, r.severity, r.joined_at, r.why,
                  bool(r.firing), r.changed_at, r.summary)


def read(conn: sa.Connection, status: str | None, service: str | None, since: float | None,
         limit: int, offset: int, with_members: bool = False) -> list[Incident]:
    """Newest first (by when they opened)."""
    q = sa.select(incidents)
    if status == "active":
        q = q.where(incidents.c.status != IncidentStatus.RESOLVED.value)
    elif status is not None:
        q = q.where(incidents.c.status == status)
    if service is not None:
        q = q.where(incidents.c.service == service)
    if since is not None:
        q = q.where(sa.or_(incidents.c.opened_at >= since, incidents.c.resolved_at >= since,
                           incidents.c.resolved_at.is_(None)))
    q = q.order_by(incidents.c.opened_at.desc(), incidents.c.id.desc()).limit(limit).offset(offset)
    found = [_incident(r) for r in conn.execute(q)]
    if with_members and found:
        by_id = {i.id: i for i in found}
        for r in conn.execute(sa.select(incident_members).where(incident_members.c.incident_id.in_(by_id))):
            by_id[r.incident_id].members[r.fingerprint] = _member(r)
    return found


def read_one(conn: sa.Connection, incident_id: int) -> Incident | None:
    r = conn.execute(sa.select(incidents).where(incidents.c.id == incident_id)).first()
    if r is None:
        return None
    inc = _incident(r)
    for m in conn.execute(sa.select(incident_members).where(incident_members.c.incident_id == incident_id)
                          .order_by(incident_members.c.joined_at)):
        inc.members[m.fingerprint] = _member(m)
    return inc


def read_timeline(conn: sa.Connection, incident_id: int, limit: int) -> list[TimelineEntry]:
    t = incident_timeline
    rows = conn.execute(sa.select(t).where(t.c.incident_id == incident_id).order_by(t.c.ts, t.c.id).limit(limit))
    return [TimelineEntry(r.incident_id, r.ts, r.kind, r.message, r.actor, orjson.loads(r.data)) for r in rows]


def max_id(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.max(incidents.c.id))).scalar() or 0)
