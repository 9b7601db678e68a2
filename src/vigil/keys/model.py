"""One version of an API key, and how keys are made and recognised.

A key is `vk_<id>_<secret>`: `id` (12 hex digits) names the row, `secret` is 32 bytes from `secrets`
(43 characters). Only `sha256(key)` is stored. Not bcrypt or argon2: those slow down guessing a
*low-entropy* password; a 256-bit random key cannot be guessed however fast the hash, and a slow hash
would cost ~100 ms of CPU on every request. The hash is looked up in a dict, so the time a lookup
takes does not depend on how much of a key was right."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace

PREFIX = "vk_"
DEFAULT_EXPIRY_DAYS = 90
DEFAULT_GRACE_DAYS = 7
WARN_BEFORE_S = 14 * 86400.0  # expiry warnings start this long before
DAY = 86400.0


def key_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def new_key() -> tuple[str, str]:
    """(row id, the key): the key is shown once and never stored."""
    kid = secrets.token_hex(6)
    return kid, f"{PREFIX}{kid}_{secrets.token_urlsafe(32)}"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    name: str
    version: int
    hash: str
    scopes: tuple[str, ...]
    created_at: float
    created_by: str
    expires_at: float
    rotated_at: float | None = None
    revoked_at: float | None = None
    last_used_at: float | None = None
    use_count: int = 0

    def valid(self, now: float) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def state(self, now: float) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:
            return "rotated out" if self.rotated_at is not None else "expired"
        if self.rotated_at is not None:
            return "grace"  # replaced, still accepted until expires_at
        return "expiring" if self.expires_at - now <= WARN_BEFORE_S else "active"

    @property
    def ref(self) -> str:
        return f"store:{self.id}"

    def with_(self, **changes: object) -> KeyRecord:
        return replace(self, **changes)  # type: ignore[arg-type]


def expiry_warning(rec: KeyRecord, now: float) -> str | None:
    """The warning a client gets on each answer when its key ends soon, or None."""
    left = rec.expires_at - now
    if left > WARN_BEFORE_S:
        return None
    why = "is in its grace period after rotation and stops working" if rec.rotated_at is not None else "expires"
    return f"API key {rec.name!r} {why} in {max(left, 0) / DAY:.1f} days; rotate it with `vigil keys rotate {rec.name}`"
