"""The audit record and its hash chain.

Each record's `hash` is sha256 over the canonical JSON of the record (every field but `hash`, keys
sorted, no spaces), and that JSON includes `prev_hash`, the hash of the record before it (GENESIS for
the first). Changing, removing or reordering any stored record breaks the chain at that record or the
one after it; `first_break` says where. Truncating the newest records cannot be seen from the chain
alone (nothing comes after them): compare the count or the last hash with an exported copy."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

GENESIS = "0" * 64
_JSON = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def canonical(value: Any) -> bytes:
    """The one JSON form a value is hashed and stored in: keys sorted, no spaces, anything orjson
    cannot write as its str()."""
    return orjson.dumps(value, option=_JSON, default=str)


def plain(value: Any) -> Any:
    """`value` as it will read back from the store (JSON types only), so the hash is computed over
    exactly what is stored."""
    return orjson.loads(canonical(value))


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    ts: float
    actor: str
    action: str
    reason: Any
    inputs: Any
    result: Any
    duration_s: float
    incident: int | None
    service: str | None
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """What the hash covers."""
        return {"id": self.id, "ts": self.ts, "actor": self.actor, "action": self.action, "reason": self.reason,
                "inputs": self.inputs, "result": self.result, "duration_s": self.duration_s,
                "incident": self.incident, "service": self.service, "prev_hash": self.prev_hash}

    def view(self) -> dict[str, Any]:
        """For the API and the export (JSON lines)."""
        return {**self.body(), "hash": self.hash}


def digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()


def sealed(seq: int, prev_hash: str, entry: dict[str, Any]) -> AuditRecord:
    """A new record: `entry` (ts, actor, action, reason, inputs, result, duration_s, incident, service,
    already plain) numbered `seq` and chained to `prev_hash`."""
    body = {**entry, "id": seq, "prev_hash": prev_hash}
    return AuditRecord(**body, hash=digest(body))


@dataclass(frozen=True, slots=True)
class ChainBreak:
    id: int
    problem: str


def first_break(records: Iterable[AuditRecord]) -> tuple[int, ChainBreak | None]:
    """Walk the records in id order: (how many were checked, the first broken one or None)."""
    prev, expected_id, n = GENESIS, None, 0
    for rec in records:
        n += 1
        if expected_id is not None and rec.id != expected_id:
            return n, ChainBreak(rec.id, f"expected record {expected_id} next, found {rec.id} (records removed?)")
        if rec.prev_hash != prev:
            return n, ChainBreak(rec.id, "its prev_hash is not the hash of the record before it")
        if digest(rec.body()) != rec.hash:
            return n, ChainBreak(rec.id, "its content does not match its hash (changed after it was written)")
        prev, expected_id = rec.hash, rec.id + 1
    return n, None
