"""Browser sessions: a signed, expiring cookie made from an API key, and its CSRF token.

`POST /api/v1/session` with `{"key": ...}` checks the key like a header would and answers the
principal, scopes, CSRF token and expiry; it sets `vigil_session` (HttpOnly, SameSite=Strict, Path=/,
Secure under TLS) and `vigil_csrf` (readable by the page's script, which sends it back as
`X-CSRF-Token`). The cookie holds no key: it names the key it was made from (a reference, checked
again on every request, so revoking or rotating out the key ends its sessions), the scopes, an expiry
and a random session id, under an HMAC-SHA256 with a secret only vigil knows (`server.session_secret`,
or one made with `secrets` at the first start and kept in the store). The CSRF token is an HMAC of the
session id under the same secret: bound to that session, and nothing to store."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import orjson

log = logging.getLogger("vigil.web.session")

SESSION_COOKIE = "vigil_session"
CSRF_COOKIE = "vigil_csrf"
CSRF_HEADER = "X-CSRF-Token"
SECRET_STATE_KEY = "session/secret"
DEFAULT_SESSION_S = 12 * 3600.0
MAX_COOKIE_CHARS = 1024  # a real one is about 250; longer is refused before it is decoded
_DOMAIN = b"vigil session v1\n"
_CSRF_DOMAIN = b"vigil csrf v1\n"


@dataclass(frozen=True, slots=True)
class Session:
    sid: str
    principal: str
    ref: str  # the key it was made from (never the key itself)
    scopes: tuple[str, ...]
    expires_at: float


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("a session secret needs at least 16 bytes")
        self._secret = secret

    def issue(self, principal: str, ref: str, scopes: tuple[str, ...], expires_at: float) -> tuple[str, Session]:
        session = Session(secrets.token_urlsafe(16), principal, ref, scopes, expires_at)
        payload = _b64(orjson.dumps({"i": session.sid, "p": principal, "k": ref, "s": list(scopes),
                                     "e": expires_at}))
        return f"{payload}.{self._mac(payload)}", session

    def read(self, cookie: str, now: float) -> Session | None:
        """The session a cookie carries, or None when it is malformed, altered or expired."""
        if not cookie or len(cookie) > MAX_COOKIE_CHARS or cookie.count(".") != 1 or not cookie.isascii():
            return None
        payload, mac = cookie.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac(payload).encode()):
            return None
        try:
            data = orjson.loads(_unb64(payload))
            session = Session(str(data["i"]), str(data["p"]), str(data["k"]), tuple(map(str, data["s"])),
                              float(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires_at > now else None

    def csrf_token(self, session: Session) -> str:
        return _b64(hmac.new(self._secret, _CSRF_DOMAIN + session.sid.encode(), hashlib.sha256).digest())

    def csrf_ok(self, session: Session, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest((presented or "").encode("latin-1", "replace"),
                                                       self.csrf_token(session).encode())

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, _DOMAIN + payload.encode(), hashlib.sha256).digest())


def configured_secret(config: Any) -> bytes | None:
    value = getattr(config.server, "session_secret", None)
    return value.get_secret_value().encode() if value is not None else None


def ensure_secret(store: Any) -> bytes:
    """The session secret kept in the store, made (and kept) at the first use. Blocking: run on a thread."""
    blob = store.load_state(SECRET_STATE_KEY)
    if blob:
        return bytes(blob)
    made = secrets.token_bytes(32)
    store.save_state(SECRET_STATE_KEY, made)
    log.info("made a secret for session cookies (kept in the store; server.session_secret sets one)")
    return made


class LoggedOut:
    """Session ids ended by logout before their expiry, kept until they would have expired anyway
    (bounded: the oldest go first). In memory: after a restart a logged-out cookie, which the browser
    has already deleted, would work again until its expiry; revoking its key ends it for good."""

    def __init__(self, cap: int = 100_000) -> None:
        self._ended: dict[str, float] = {}
        self._cap = cap

    def end(self, session: Session, now: float) -> None:
        if len(self._ended) >= self._cap:
            self._ended = {sid: exp for sid, exp in self._ended.items() if exp > now}
            while len(self._ended) >= self._cap:
                self._ended.pop(next(iter(self._ended)))
        self._ended[session.sid] = session.expires_at

    def __contains__(self, sid: str) -> bool:
        return sid in self._ended
