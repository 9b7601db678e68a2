"""Signed, expiring links to act on an incident from a notification: acknowledge, resolve, view.

A link carries its incident, its action, its expiry and whom it was sent to, and an HMAC-SHA256 of
those under a secret only vigil knows (`server.link_secret`, or one made with `secrets` at the first
start and kept in the store's state table). Whoever holds an unexpired link may do that one thing
to that one incident, and is recorded as `link:<whom it was sent to>`; nothing else. The check is in
constant time and refuses with the reason (malformed, bad signature, expired). Opening a link (GET)
only shows a confirmation page; the action is a POST from that page, so mail scanners that follow
links change nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from vigil.incidents.model import Incident

log = logging.getLogger("vigil.links")

ACTIONS = ("acknowledge", "resolve", "view")
DEFAULT_EXPIRY_S = 86400.0
SECRET_STATE_KEY = "links/secret"
MAX_TOKEN_CHARS = 400
MAX_WHO_CHARS = 200
_DOMAIN = b"vigil incident link v1\n"  # the MAC covers what a token is, not only its fields
_B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_CODES = {"acknowledge": "a", "resolve": "r", "view": "v"}
_ACTION_OF = {c: a for a, c in _CODES.items()}


class LinkRefused(Exception):
    """The link cannot be used; `reason` says why (safe to show: it holds no secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Link:
    incident: int
    action: str
    expires: float
    who: str  # the user or receiver it was sent to

    @property
    def actor(self) -> str:
        return f"link:{self.who}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Makes and checks link tokens under one secret."""

    def __init__(self, secret: bytes, base_url: str = "", expiry: float = DEFAULT_EXPIRY_S) -> None:
        if len(secret) < 16:
            raise ValueError("a link secret needs at least 16 bytes")
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self.expiry = expiry

    def __repr__(self) -> str:  # never the secret
        return f"LinkSigner(base_url={self.base_url!r}, expiry={self.expiry:g})"

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, _DOMAIN + payload.encode(), hashlib.sha256).digest())

    def token(self, incident: int, action: str, who: str, expires: float) -> str:
        if action not in _CODES:
            raise ValueError(f"unknown link action {action!r}; known: {', '.join(ACTIONS)}")
        payload = f"{int(incident)}.{_CODES[action]}.{int(expires)}.{_b64(who[:MAX_WHO_CHARS].encode())}"
        return f"{payload}.{self._mac(payload)}"

    def url(self, incident: int, action: str, who: str, now: float) -> str:
        return f"{self.base_url}/links/{self.token(incident, action, who, now + self.expiry)}"

    def links(self, incident: int, who: str, now: float, open_: bool = True) -> dict[str, Any]:
        """What a notice's `incident` mapping carries: `url` (view) and `links` (acknowledge and
        resolve while the incident is open)."""
        out: dict[str, Any] = {"url": self.url(incident, "view", who, now)}
        if open_:
            out["links"] = [{"text": "Acknowledge", "href": self.url(incident, "acknowledge", who, now)},
                            {"text": "Resolve", "href": self.url(incident, "resolve", who, now)}]
        return out

    def check(self, token: str, now: float) -> Link:
        """The link a token stands for, or LinkRefused: malformed, bad signature, or expired."""
        parts = token.split(".") if len(token) <= MAX_TOKEN_CHARS else []
        if not _well_formed(parts):
            raise LinkRefused("malformed link: copy the whole link from the notification")
        payload, mac = token[: -len(parts[4]) - 1], parts[4]
        if not hmac.compare_digest(self._mac(payload).encode(), mac.encode()):
            raise LinkRefused("bad signature: this link was not made by this vigil, was altered, or its "
                              "secret has changed since")
        try:
            who = _unb64(parts[3]).decode()
        except (ValueError, UnicodeDecodeError):
            who = ""
        if not who:  # signed but not understood: a token of another version
            raise LinkRefused("malformed link: copy the whole link from the notification")
        link = Link(int(parts[0]), _ACTION_OF[parts[1]], float(parts[2]), who)
        if now >= link.expires:
            ago = _ago(now - link.expires)
            raise LinkRefused(f"expired: links work for a limited time; this one ended {ago} ago. Use the "
                              "API or a newer notification")
        return link


def _well_formed(parts: list[str]) -> bool:
    """incident . action code . expiry . whom (base64url) . MAC (base64url of 32 bytes)"""
    if len(parts) != 5:
        return False
    incident, code, expires, who, mac = parts
    return (incident.isascii() and incident.isdigit() and len(incident) <= 10 and code in _ACTION_OF
            and expires.isascii() and expires.isdigit() and len(expires) <= 12 and len(mac) == 43
            and set(who) <= _B64 and set(mac) <= _B64)


def _ago(seconds: float) -> str:
    s = int(seconds)
    if s >= 7200:
        return f"{s // 3600} hours"
    if s >= 120:
        return f"{s // 60} minutes"
    return f"{s} seconds"


def notice_incident(inc: Incident, signer: LinkSigner | None, who: str, now: float) -> dict[str, Any]:
    """What a notice carries about its incident (the `incident` mapping notify/render.py reads), with
    links signed for `who` when there is a signer: view always, acknowledge and resolve while open."""
    out: dict[str, Any] = {"id": inc.id, "title": inc.title, "status": inc.status.value,
                           "service": inc.service, "services": list(inc.services),
                           "severity": inc.severity.value, "root_causes": inc.root_causes[:3],
                           "summary": inc.summary}
    if signer is not None:
        out.update(signer.links(inc.id, who, now, open_=inc.open))
    return out


def new_secret() -> bytes:
    return secrets.token_bytes(32)


def configured_secret(config: Any) -> bytes | None:
    value = config.server.link_secret
    return value.get_secret_value().encode() if value is not None else None


def stored_secret(store: Any) -> bytes | None:
    blob = store.load_state(SECRET_STATE_KEY)
    return bytes(blob) if blob else None


def ensure_secret(store: Any) -> bytes:
    """The secret kept in the store, made (and kept) at the first start. Blocking: run on a worker."""
    found = stored_secret(store)
    if found is not None:
        return found
    made = new_secret()
    store.save_state(SECRET_STATE_KEY, made)
    log.info("made a secret for signed incident links (kept in the store; server.link_secret sets one)")
    return made


def external_url(config: Any) -> str:
    return config.server.external_url or f"http://{config.server.host}:{config.server.port}"
