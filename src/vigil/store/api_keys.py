"""API key rows (vigil.keys): written whole on create, rotate and revoke; uses added in batches."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from vigil.keys.model import KeyRecord
from vigil.store.db import upsert
from vigil.store.schema import api_keys

_COLUMNS = ["name", "version", "hash", "scopes", "created_at", "created_by", "expires_at", "rotated_at",
            "revoked_at", "last_used_at", "use_count"]


def write_keys(conn: sa.Connection, dialect: str, recs: list[KeyRecord]) -> None:
    for r in recs:
        row = {"id": r.id, "name": r.name, "version": r.version, "hash": r.hash, "scopes": " ".join(r.scopes),
               "created_at": r.created_at, "created_by": r.created_by, "expires_at": r.expires_at,
               "rotated_at": r.rotated_at, "revoked_at": r.revoked_at, "last_used_at": r.last_used_at,
               "use_count": r.use_count}
        conn.execute(upsert(dialect, api_keys, ["id"], _COLUMNS), row)


def read_keys(conn: sa.Connection) -> list[KeyRecord]:
    c = api_keys.c
    rows = conn.execute(sa.select(api_keys).order_by(c.name, c.version))
    return [KeyRecord(r.id, r.name, r.version, r.hash, tuple(r.scopes.split()), r.created_at, r.created_by,
                      r.expires_at, r.rotated_at, r.revoked_at, r.last_used_at, r.use_count) for r in rows]


def add_uses(conn: sa.Connection, uses: Mapping[str, tuple[int, float]]) -> None:
    """Add each key id's (count, last used) to its row: one statement per key, whatever the count."""
    c = api_keys.c
    for kid, (count, last) in uses.items():
        conn.execute(sa.update(api_keys).where(c.id == kid).values(
            use_count=c.use_count + count,
            last_used_at=sa.case((c.last_used_at.is_(None), last), (c.last_used_at < last, last),
                                 else_=c.last_used_at)))
