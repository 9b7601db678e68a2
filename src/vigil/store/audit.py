"""Audit log rows (vigil.audit): appended under a chain lock so that concurrent appenders (threads,
or several vigil instances on one PostgreSQL) each chain to the true last record."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from vigil.audit.chain import GENESIS, AuditRecord, canonical, sealed
from vigil.store.schema import audit_log

_PG_LOCK_AUDIT = 0x76696703
_JSON_COLUMNS = ("reason", "inputs", "result")


def _chain_lock(conn: sa.Connection, dialect: str) -> None:
    """Hold the chain until this transaction ends. SQLite's write transactions (BEGIN IMMEDIATE)
    already exclude each other; PostgreSQL needs a lock, as two transactions could read the same last
    record otherwise."""
    if dialect == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_AUDIT})


def append(conn: sa.Connection, dialect: str, entries: Sequence[dict[str, Any]]) -> list[AuditRecord]:
    """Seal and insert `entries` (plain JSON values) after the last stored record, in order."""
    if not entries:
        return []
    _chain_lock(conn, dialect)
    c = audit_log.c
    last = conn.execute(sa.select(c.id, c.hash).order_by(c.id.desc()).limit(1)).first()
    seq, prev = (int(last.id) + 1, last.hash) if last is not None else (1, GENESIS)
    out = []
    for entry in entries:
        rec = sealed(seq, prev, entry)
        out.append(rec)
        seq, prev = seq + 1, rec.hash
    conn.execute(sa.insert(audit_log), [_row(r) for r in out])
    return out


def _row(r: AuditRecord) -> dict[str, Any]:
    return {"id": r.id, "ts": r.ts, "actor": r.actor, "action": r.action, "reason": canonical(r.reason).decode(),
            "inputs": canonical(r.inputs).decode(), "result": canonical(r.result).decode(),
            "duration_s": r.duration_s, "incident_id": r.incident, "service": r.service,
            "prev_hash": r.prev_hash, "hash": r.hash}


def _record(row: Any) -> AuditRecord:
    return AuditRecord(int(row.id), float(row.ts), row.actor, row.action, orjson.loads(row.reason),
                       orjson.loads(row.inputs), orjson.loads(row.result), float(row.duration_s),
                       row.incident_id, row.service, row.prev_hash, row.hash)


def read(conn: sa.Connection, actor: str | None = None, action: str | None = None, service: str | None = None,
         incident: int | None = None, since: float | None = None, until: float | None = None,
         text: str | None = None, before_id: int | None = None, limit: int = 100) -> list[AuditRecord]:
    """Records newest first. `text` is a plain substring (no pattern; case-insensitive for ASCII)
    looked for in the actor, action, reason, inputs and result."""
    c = audit_log.c
    q = sa.select(audit_log)
    for col, value in ((c.actor, actor), (c.action, action), (c.service, service), (c.incident_id, incident)):
        if value is not None:
            q = q.where(col == value)
    if since is not None:
        q = q.where(c.ts >= since)
    if until is not None:
        q = q.where(c.ts <= until)
    if before_id is not None:
        q = q.where(c.id < before_id)
    if text:
        needle = text.lower()
        q = q.where(sa.or_(*(sa.func.lower(col).contains(needle, autoescape=True)
                             for col in (c.actor, c.action, c.reason, c.inputs, c.result))))
    return [_record(r) for r in conn.execute(q.order_by(c.id.desc()).limit(limit))]


def page(conn: sa.Connection, after_id: int, limit: int, since: float | None = None) -> list[AuditRecord]:
    """Records oldest first after `after_id` (verify and export walk the log in pages)."""
    c = audit_log.c
    q = sa.select(audit_log).where(c.id > after_id)
    if since is not None:
        q = q.where(c.ts >= since)
    return [_record(r) for r in conn.execute(q.order_by(c.id).limit(limit))]


def walk(reader: Any, since: float | None = None, page_size: int = 1000) -> Iterator[AuditRecord]:
    """Every record oldest first, one page (one short read transaction) at a time; `reader(after_id,
    limit, since)` reads a page."""
    after = 0
    while True:
        rows = reader(after, page_size, since)
        yield from rows
        if len(rows) < page_size:
            return
        after = rows[-1].id
