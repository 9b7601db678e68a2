"""Rows of remediation actions and their steps (heal/ledger.py): plain functions on a connection,
called by the Store inside its transactions."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa

from vigil.heal.ledger import UNFINISHED, ActionRecord, StepRecord
from vigil.store.db import upsert
from vigil.store.schema import action_steps, actions

_COLUMNS = ("id", "key", "runbook", "service", "incident", "state", "mode", "created_at", "updated_at", "steps")


def save_action(conn: sa.Connection, dialect: str, a: ActionRecord) -> None:
    body = {k: v for k, v in a.view().items() if k not in _COLUMNS}
    row = {"id": a.id, "key": a.key, "runbook": a.runbook, "service": a.service, "incident_id": a.incident,
           "state": a.state, "mode": a.mode, "created_at": a.created_at, "updated_at": a.updated_at,
           "body": orjson.dumps(body).decode()}
    conn.execute(upsert(dialect, actions, ["id"], ["state", "updated_at", "body"]), [row])


def save_step(conn: sa.Connection, dialect: str, s: StepRecord) -> None:
    row = {"action_id": s.action_id, "phase": s.phase, "idx": s.index, "kind": s.kind, "state": s.state,
           "started_at": s.started_at, "finished_at": s.finished_at, "detail": s.detail,
           "result": orjson.dumps(s.result).decode()}
    conn.execute(upsert(dialect, action_steps, ["action_id", "phase", "idx"],
                        ["state", "finished_at", "detail", "result"]), [row])


def _action(row: Any, steps: list[StepRecord]) -> ActionRecord:
    body: dict[str, Any] = orjson.loads(row.body)
    return ActionRecord(id=row.id, key=row.key, runbook=row.runbook, service=row.service, incident=row.incident_id,
                        state=row.state, mode=row.mode, created_at=row.created_at, updated_at=row.updated_at,
                        steps=steps, **body)


def _steps(conn: sa.Connection, ids: list[int]) -> dict[int, list[StepRecord]]:
    out: dict[int, list[StepRecord]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        rows = conn.execute(sa.select(action_steps).where(action_steps.c.action_id.in_(ids[start:start + 500]))
                            .order_by(action_steps.c.action_id, action_steps.c.phase.desc(),  # steps, then rollback
                                      action_steps.c.idx))
        for r in rows:
            out[r.action_id].append(StepRecord(r.action_id, r.phase, r.idx, r.kind, r.state, r.started_at,
                                               r.finished_at, r.detail, orjson.loads(r.result)))
    return out


def read_actions(conn: sa.Connection, state: str | None, service: str | None, since: float | None,
                 limit: int, incident: int | None = None) -> list[ActionRecord]:
    q = sa.select(actions).order_by(actions.c.id.desc()).limit(limit)
    if state == "unfinished":
        q = q.where(actions.c.state.in_(UNFINISHED))
    elif state is not None:
        q = q.where(actions.c.state == state)
    if service is not None:
        q = q.where(actions.c.service == service)
    if since is not None:
        q = q.where(actions.c.created_at >= since)
    if incident is not None:
        q = q.where(actions.c.incident_id == incident)
    rows = list(conn.execute(q))
    steps = _steps(conn, [r.id for r in rows])
    return [_action(r, steps[r.id]) for r in rows]


def read_action(conn: sa.Connection, action_id: int) -> ActionRecord | None:
    row = conn.execute(sa.select(actions).where(actions.c.id == action_id)).first()
    return None if row is None else _action(row, _steps(conn, [row.id])[row.id])


def last_action_id(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.max(actions.c.id))).scalar() or 0)
