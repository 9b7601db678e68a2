"""Silences in the store: one row per silence, written whole on every change (create, expire)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import sqlalchemy as sa

from vigil.incidents.matchers import Matcher
from vigil.incidents.silences import Silence
from vigil.store.db import upsert
from vigil.store.schema import silences

_COLUMNS = ["matchers", "starts_at", "ends_at", "created_by", "comment", "updated_at"]


def write_silence(conn: sa.Connection, dialect: str, s: Silence) -> None:
    row = {"id": s.id, "matchers": orjson.dumps([m.to_dict() for m in s.matchers]).decode(),
           "starts_at": float(s.starts_at), "ends_at": float(s.ends_at), "created_by": s.created_by,
           "comment": s.comment, "updated_at": float(s.updated_at)}
    conn.execute(upsert(dialect, silences, ["id"], _COLUMNS), row)


def read_silences(conn: sa.Connection) -> list[Silence]:
    c = silences.c
    rows = conn.execute(sa.select(silences).order_by(c.updated_at, c.id))
    return [Silence(r.id, tuple(Matcher.from_dict(m) for m in orjson.loads(r.matchers)), r.starts_at,
                    r.ends_at, r.created_by, r.comment, r.updated_at) for r in rows]


def delete_silences(conn: sa.Connection, ids: Sequence[str]) -> None:
    if ids:
        conn.execute(sa.delete(silences).where(silences.c.id.in_(list(ids))))
