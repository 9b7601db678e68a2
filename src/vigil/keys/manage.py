"""Create, rotate, revoke and list stored keys. Blocking (store calls): the CLI runs these directly;
each change is written with its audit event (kind `api_key`) and never logs or records the key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vigil.keys.model import DAY, DEFAULT_EXPIRY_DAYS, DEFAULT_GRACE_DAYS, KeyRecord, key_hash, new_key
from vigil.model import Event

SCOPES = ("read", "ingest", "operate", "admin")
MAX_NAME_CHARS = 100


class KeyError_(ValueError):
    """A key operation that cannot be done; the message says why and what to do."""


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or not all(ch.isalnum() or ch in "-_." for ch in name):
        raise KeyError_(f"a key name is 1 to {MAX_NAME_CHARS} letters, digits, '-', '_' or '.'; found {name[:60]!r}")
    return name


def _check_scopes(scopes: Sequence[str]) -> tuple[str, ...]:
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise KeyError_(f"scopes are {', '.join(SCOPES)} (give --scope once per scope); found "
                        f"{', '.join(map(repr, bad)) or 'none'}")
    return tuple(sorted(set(scopes)))


def versions(store: Any, name: str) -> list[KeyRecord]:
    return [r for r in store.api_keys() if r.name == name]


def create(store: Any, name: str, scopes: Sequence[str], now: float, expires_days: float = DEFAULT_EXPIRY_DAYS,
           actor: str = "cli") -> tuple[KeyRecord, str]:
    name, granted = _check_name(name), _check_scopes(scopes)
    if not 0 < expires_days <= 3650:
        raise KeyError_(f"--expires-days must be between 0 and 3650; found {expires_days:g}")
    if any(r.valid(now) for r in versions(store, name)):
        raise KeyError_(f"a key named {name!r} exists; rotate it (`vigil keys rotate {name}`) or revoke it first")
    version = max((r.version for r in versions(store, name)), default=0) + 1
    rec, key = _made(name, version, granted, now, now + expires_days * DAY, actor)
    _write(store, [rec], now, f"API key {name!r} created (scopes {' '.join(granted)}, version {version})", actor,
           {"action": "create", "name": name, "id": rec.id, "scopes": list(granted), "expires_at": rec.expires_at})
    return rec, key


def rotate(store: Any, name: str, now: float, grace_days: float = DEFAULT_GRACE_DAYS,
           actor: str = "cli") -> tuple[KeyRecord, str]:
    """A new version with the same scopes and lifetime; the current one stays valid for the grace period,
    any older one still in its grace period ends now (at most two versions are ever valid)."""
    live = [r for r in versions(store, _check_name(name)) if r.valid(now)]
    current = max((r for r in live if r.rotated_at is None), key=lambda r: r.version, default=None)
    if current is None:
        raise KeyError_(f"no valid key named {name!r} to rotate (see `vigil keys list`; create one instead)")
    if not 0 <= grace_days <= 90:
        raise KeyError_(f"--grace-days must be between 0 and 90; found {grace_days:g}")
    lifetime = current.expires_at - current.created_at
    rec, key = _made(name, max(r.version for r in versions(store, name)) + 1, current.scopes, now,
                     now + lifetime, actor)
    ended = [r.with_(expires_at=min(r.expires_at, now)) for r in live if r.rotated_at is not None]
    old = current.with_(rotated_at=now, expires_at=min(current.expires_at, now + grace_days * DAY))
    _write(store, [*ended, old, rec], now, f"API key {name!r} rotated to version {rec.version}; version "
           f"{current.version} works for {grace_days:g} more days", actor,
           {"action": "rotate", "name": name, "id": rec.id, "previous": current.id, "grace_until": old.expires_at})
    return rec, key


def revoke(store: Any, name: str, now: float, actor: str = "cli") -> list[KeyRecord]:
    """Every version still valid stops working (within the API's refresh of a couple of seconds)."""
    live = [r for r in versions(store, _check_name(name)) if r.revoked_at is None and r.expires_at > now]
    if not live:
        raise KeyError_(f"no valid key named {name!r} to revoke (see `vigil keys list`)")
    done = [r.with_(revoked_at=now) for r in live]
    _write(store, done, now, f"API key {name!r} revoked ({len(done)} version(s))", actor,
           {"action": "revoke", "name": name, "ids": [r.id for r in done]})
    return done


def _made(name: str, version: int, scopes: tuple[str, ...], now: float, expires_at: float,
          actor: str) -> tuple[KeyRecord, str]:
    kid, key = new_key()
    return KeyRecord(kid, name, version, key_hash(key.encode()), scopes, now, actor, expires_at), key


def _write(store: Any, recs: list[KeyRecord], now: float, message: str, actor: str, data: dict[str, Any]) -> None:
    store.write_api_keys(recs)
    store.append_events([Event(now, "api_key", None, message, {**data, "actor": actor})])
