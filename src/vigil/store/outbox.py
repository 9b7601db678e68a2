"""The outbox's rows: notices written before they are sent, their delivery state, and what each
receiver integration was last told firing. Plain functions on a connection (the Store calls them
inside its transactions) and `OutboxStore`, the face the outbox uses."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

import orjson
import sqlalchemy as sa

from vigil.model import Alert, AlertStatus, Notice
from vigil.store.db import upsert
from vigil.store.schema import outbox, outbox_told

PENDING, SENDING, DELIVERED, DEAD, SKIPPED = "pending", "sending", "delivered", "dead", "skipped"
UNFINISHED = (PENDING, SENDING)
FINISHED = (DELIVERED, DEAD, SKIPPED)
_IN_CHUNK = 500  # keys per IN (...) list


@dataclass(slots=True)
class NewRow:
    key: str
    receiver: str
    integration: str
    group_key: str
    status: str
    kind: str
    notice: str  # JSON
    state: str
    created_at: float
    next_at: float
    last_error: str = ""


@dataclass(slots=True)
class RowUpdate:
    id: int
    state: str
    attempts: int
    next_at: float
    first_attempt_at: float | None
    delivered_at: float | None
    last_error: str
    status_code: int | None
    updated_at: float


@dataclass(slots=True)
class OutboxRow:
    id: int
    key: str
    receiver: str
    integration: str
    group_key: str
    status: str
    kind: str
    state: str
    attempts: int
    created_at: float
    updated_at: float
    next_at: float
    first_attempt_at: float | None
    delivered_at: float | None
    last_error: str
    status_code: int | None
    notice: Notice | None = None

    def as_dict(self) -> dict[str, Any]:
        """For the API: everything but the notice itself (ask for it by id)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "notice"}


Told = tuple[str, str, str]  # (receiver, integration, group_key)


class OutboxStore(Protocol):
    """The store face the outbox uses (vigil.store.Store implements it)."""

    def outbox_add(self, rows: Sequence[NewRow]) -> list[int | None]: ...

    def outbox_update(self, updates: Sequence[RowUpdate], told: Sequence[tuple[Told, str | None]],
                      now: float) -> None: ...

    def outbox_unfinished(self) -> list[OutboxRow]: ...

    def outbox_told(self) -> dict[Told, str]: ...

    def outbox_requeue(self, ids: Sequence[int], now: float,
                       known: Collection[tuple[str, str]]) -> tuple[list[OutboxRow], dict[int, str]]: ...

    def outbox_prune(self, before: float) -> int: ...


# ------------------------------------------------------------------------------------------ codec

def _json(v: Any) -> str:
    return orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS, default=str).decode()


def encode_notice(n: Notice) -> str:
    return _json({
        "key": n.key, "receiver": n.receiver, "group_key": n.group_key, "status": n.status.value,
        "created_at": n.created_at, "group_labels": n.group_labels, "truncated_alerts": n.truncated_alerts,
        "incident": n.incident, "kind": n.kind, "report": n.report,
        "alerts": [{"labels": a.labels, "status": a.status.value, "starts_at": a.starts_at,
                    "ends_at": a.ends_at, "annotations": a.annotations, "source": a.source,
                    "evidence": a.evidence, "fingerprint": a.fingerprint} for a in n.alerts],
    })


def decode_notice(text: str) -> Notice:
    d = orjson.loads(text)
    alerts = [Alert(a["labels"], AlertStatus(a["status"]), a["starts_at"], a["ends_at"], a["annotations"],
                    a["source"], a["evidence"], a["fingerprint"]) for a in d["alerts"]]
    return Notice(d["key"], d["receiver"], d["group_key"], AlertStatus(d["status"]), alerts, d["created_at"],
                  d["group_labels"], d["truncated_alerts"], d["incident"], d["kind"], report=d.get("report"))


# ------------------------------------------------------------------------------------------- rows

_COLUMNS = [c for c in outbox.c if c.name != "notice"]


def _row(r: sa.Row, with_notice: bool) -> OutboxRow:
    m = r._mapping
    row = OutboxRow(*(m[c.name] for c in _COLUMNS))
    if with_notice:
        row.notice = decode_notice(m["notice"])
    return row


def add(conn: sa.Connection, rows: Sequence[NewRow]) -> list[int | None]:
    """Insert the rows whose (key, receiver, integration) is new; their ids, None for a duplicate."""
    if not rows:
        return []
    seen: set[tuple[str, str, str]] = set()
    keys = sorted({r.key for r in rows})
    c = outbox.c
    for i in range(0, len(keys), _IN_CHUNK):
        q = sa.select(c.key, c.receiver, c.integration).where(c.key.in_(keys[i:i + _IN_CHUNK]))
        seen.update((k, rc, ig) for k, rc, ig in conn.execute(q))
    fresh: list[int] = []
    values = []
    for i, r in enumerate(rows):
        ident = (r.key, r.receiver, r.integration)
        if ident in seen:
            continue
        seen.add(ident)  # the same notice twice in one call is one row too
        fresh.append(i)
        values.append({"key": r.key, "receiver": r.receiver, "integration": r.integration,
                       "group_key": r.group_key, "status": r.status, "kind": r.kind, "notice": r.notice,
                       "state": r.state, "attempts": 0, "created_at": r.created_at,
                       "updated_at": r.created_at,
                       "next_at": r.next_at, "first_attempt_at": None, "delivered_at": None,
                       "last_error": r.last_error, "status_code": None})
    ids: list[int | None] = [None] * len(rows)
    if values:
        result = conn.execute(sa.insert(outbox).returning(c.id, sort_by_parameter_order=True), values)
        for i, (new_id,) in zip(fresh, result, strict=True):
            ids[i] = int(new_id)
    return ids


def update(conn: sa.Connection, dialect: str, updates: Sequence[RowUpdate],
           told: Sequence[tuple[Told, str | None]], now: float) -> None:
    """Apply delivery states, and set (key) or clear (None) what each integration was told firing."""
    if updates:
        c = outbox.c
        stmt = (sa.update(outbox).where(c.id == sa.bindparam("b_id"))
                .values(state=sa.bindparam("b_state"), attempts=sa.bindparam("b_attempts"),
                        next_at=sa.bindparam("b_next_at"), first_attempt_at=sa.bindparam("b_first"),
                        delivered_at=sa.bindparam("b_delivered"), last_error=sa.bindparam("b_error"),
                        status_code=sa.bindparam("b_code"), updated_at=sa.bindparam("b_updated")))
        conn.execute(stmt, [{"b_id": u.id, "b_state": u.state, "b_attempts": u.attempts,
                             "b_next_at": u.next_at, "b_first": u.first_attempt_at,
                             "b_delivered": u.delivered_at, "b_error": u.last_error, "b_code": u.status_code,
                             "b_updated": u.updated_at} for u in updates])
    sets = [{"receiver": r, "integration": i, "group_key": g, "key": k, "updated_at": now}
            for (r, i, g), k in told if k is not None]
    clears = [{"b_r": r, "b_i": i, "b_g": g} for (r, i, g), k in told if k is None]
    if sets:
        keys = ["receiver", "integration", "group_key"]
        conn.execute(upsert(dialect, outbox_told, keys, ["key", "updated_at"]), sets)
    if clears:
        t = outbox_told.c
        conn.execute(sa.delete(outbox_told).where(t.receiver == sa.bindparam("b_r"),
                                                  t.integration == sa.bindparam("b_i"),
                                                  t.group_key == sa.bindparam("b_g")), clears)


def unfinished(conn: sa.Connection) -> list[OutboxRow]:
    q = sa.select(outbox).where(outbox.c.state.in_(UNFINISHED)).order_by(outbox.c.id)
    return [_row(r, True) for r in conn.execute(q)]


def read_told(conn: sa.Connection) -> dict[Told, str]:
    t = outbox_told.c
    q = sa.select(t.receiver, t.integration, t.group_key, t.key)
    return {(r, i, g): k for r, i, g, k in conn.execute(q)}


def entries(conn: sa.Connection, state: str | None, receiver: str | None, key: str | None, limit: int,
            before_id: int | None, with_notice: bool) -> list[OutboxRow]:
    """Newest first; page with before_id (the smallest id of the previous page)."""
    c = outbox.c
    q = sa.select(outbox)
    for column, value in (("state", state), ("receiver", receiver), ("key", key)):
        if value is not None:
            q = q.where(c[column] == value)
    if before_id is not None:
        q = q.where(c.id < before_id)
    return [_row(r, with_notice) for r in conn.execute(q.order_by(c.id.desc()).limit(limit))]


def counts(conn: sa.Connection) -> dict[str, int]:
    c = outbox.c
    return {s: int(n) for s, n in conn.execute(sa.select(c.state, sa.func.count()).group_by(c.state))}


def requeue(conn: sa.Connection, ids: Sequence[int], now: float,
            known: Collection[tuple[str, str]]) -> tuple[list[OutboxRow], dict[int, str]]:
    """Dead letters back to pending (attempts from zero). Refused, with the reason: a row that is not
    dead, one whose (receiver, integration) is not in `known` (no longer configured), and one a later
    notice of the same group and integration has superseded (sending it now would tell the receiver
    something older than what it was told since)."""
    c = outbox.c
    rows = conn.execute(sa.select(outbox).where(c.id.in_(list(ids))))
    found = {r.id: r for r in (_row(x, True) for x in rows)}
    done: list[OutboxRow] = []
    refused: dict[int, str] = {}
    for i in ids:
        row = found.get(i)
        if row is None:
            refused[i] = "no such notification"
            continue
        if row.state != DEAD:
            refused[i] = f"it is {row.state}, not a dead letter"
            continue
        if (row.receiver, row.integration) not in known:
            refused[i] = (f"receiver {row.receiver!r} has no integration {row.integration} in the "
                          "configuration")
            continue
        later = conn.execute(sa.select(c.key).where(
            c.receiver == row.receiver, c.integration == row.integration, c.group_key == row.group_key,
            c.id > row.id).order_by(c.id).limit(1)).scalar()
        if later is not None:
            refused[i] = f"superseded by the later notice {later!r} of the same group"
            continue
        conn.execute(sa.update(outbox).where(c.id == i).values(
            state=PENDING, attempts=0, next_at=now, first_attempt_at=None, updated_at=now,
            last_error=f"re-queued after: {row.last_error}"[:500]))
        row.state, row.attempts, row.next_at, row.first_attempt_at = PENDING, 0, now, None
        row.updated_at = now
        done.append(row)
    return done, refused


def prune(conn: sa.Connection, before: float) -> int:
    """Delete delivered and skipped rows last updated before `before` (dead letters stay until
    re-queued or the operator removes them)."""
    c = outbox.c
    result = conn.execute(sa.delete(outbox).where(c.state.in_((DELIVERED, SKIPPED)), c.updated_at < before))
    return int(result.rowcount or 0)
