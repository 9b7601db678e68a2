"""Rows of the maintenance windows runbooks open (heal/windows.py): plain functions on a connection,
called by the Store inside its transactions."""

from __future__ import annotations

import sqlalchemy as sa

from vigil.heal.windows import WindowRecord
from vigil.store.db import upsert
from vigil.store.schema import maintenance_windows as table


def open_window(conn: sa.Connection, dialect: str, w: WindowRecord) -> None:
    row = {"service": w.service, "starts_at": w.starts_at, "ends_at": w.ends_at, "opened_by": w.opened_by,
           "reason": w.reason}
    conn.execute(upsert(dialect, table, ["service"], ["starts_at", "ends_at", "opened_by", "reason"]), [row])


def close_window(conn: sa.Connection, service: str) -> bool:
    return bool(conn.execute(sa.delete(table).where(table.c.service == service)).rowcount)


def read_windows(conn: sa.Connection, open_at: float | None) -> list[WindowRecord]:
    q = sa.select(table).order_by(table.c.service)
    if open_at is not None:
        q = q.where(table.c.ends_at > open_at)
    return [WindowRecord(r.service, r.starts_at, r.ends_at, r.opened_by, r.reason) for r in conn.execute(q)]
