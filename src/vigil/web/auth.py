"""Who is calling, and may they: API keys (`Authorization: Bearer KEY` or `X-API-Key: KEY`) or a
session cookie made from one, checked against the scope the route needs (vigil.web.scopes).

Every route goes through `ApiKeys.guard` (an app-wide dependency, so a new route cannot skip it);
routers also declare `Depends(keys)` so the OpenAPI description shows the key schemes. Header keys are
read the same way (surrounding whitespace stripped; configured keys cannot have any), compared in
constant time and never logged or echoed. With a session cookie, a state-changing request must carry
`X-CSRF-Token` equal to the token bound to that session; a header key needs none (a page on another
site cannot set a header on a cross-site request, and has no key to put in it)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request, Security, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from vigil.web.limits import EXEMPT_PATHS, RateLimiter, RateLimits, Refusal
from vigil.web.scopes import METRICS, PUBLIC, SCOPES, STATE_CHANGING, TABLE, allows, required_scope
from vigil.web.session import (
    CSRF_HEADER,
    SESSION_COOKIE,
    LoggedOut,
    Session,
    SessionSigner,
    configured_secret,
    ensure_secret,
)

# Declared for the OpenAPI description (either scheme will do); the headers are read below.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", description="`Authorization: Bearer <key>`")
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey",
                              description="`X-API-Key: <key>`")
SESSION = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="session",
                       description="the cookie `POST /api/v1/session` sets; state-changing requests need X-CSRF-Token")
CONFIG_REF = "config"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    scopes: frozenset[str]
    ref: str  # which key, for sessions to check again (never the key itself)
    expires_at: float | None = None
    session: Session | None = None


class KeyBook:
    """Where keys beyond the config's are looked up (the store's: vigil.keys). A Protocol in effect:
    `identify` a presented key, `check` a reference a session holds, both returning the current
    Principal or None; `note_use` records a use (batched by the implementation)."""

    def identify(self, raw: bytes, now: float) -> Principal | None:
        return None

    def check(self, ref: str, now: float) -> Principal | None:
        return None

    def note_use(self, principal: Principal, now: float) -> None:
        return None

    def has_keys(self) -> bool:
        return False

    async def refresh(self) -> None:
        """Bring the keys up to date (off the event loop); cheap when they are."""
        return None

    def warning(self, principal: Principal, now: float) -> str | None:
        """A warning for the client when its key ends soon."""
        return None


class ApiKeys:
    def __init__(self, keys: Mapping[str, str], scopes: Mapping[str, tuple[str, ...]] | None = None,
                 rate_limits: Mapping[str, int | None] | None = None) -> None:
        self.rate_limits = {name: n for name, n in (rate_limits or {}).items() if n}
        self._keys = [(name, key.encode("utf-8"), frozenset((scopes or {}).get(name, SCOPES)),
                       f"{CONFIG_REF}:{name}:{hashlib.sha256(key.encode()).hexdigest()[:16]}")
                      for name, key in keys.items()]
        self.book: KeyBook = KeyBook()
        self.now: Callable[[], float] = _wall_clock
        self.metrics_public = True
        self.session_expiry_s = 12 * 3600.0
        self.logged_out = LoggedOut()
        self.limiter = RateLimiter(RateLimits(), _monotonic)
        self._store: Any = None
        self._configured_secret: bytes | None = None
        self._signer: SessionSigner | None = None

    def attach(self, engine: Any, book: KeyBook | None = None) -> None:
        """Bind to an engine: its clock, its store (for the session secret and stored keys), its config."""
        server = engine.config.server
        self.now = engine.clock.now
        self.limiter = RateLimiter(RateLimits(per_address_per_min=getattr(server, "rate_limit_per_address", 100),
                                              per_key_per_min=getattr(server, "rate_limit_per_key", 6000),
                                              failures_per_min=getattr(server, "rate_limit_failures_per_address", 10)),
                                   engine.clock.monotonic)
        self._store = engine.store
        self._configured_secret = configured_secret(engine.config)
        self.metrics_public = not getattr(server, "metrics_require_key", False)
        self.session_expiry_s = float(getattr(server, "session_expiry", self.session_expiry_s))
        if book is not None:
            self.book = book

    async def signer(self) -> SessionSigner:
        if self._signer is None:
            secret = self._configured_secret
            if secret is None:
                if self._store is None:
                    raise RuntimeError("sessions need an engine (ApiKeys.attach)")
                secret = await run_in_threadpool(ensure_secret, self._store)
            self._signer = SessionSigner(secret)
        return self._signer

    # -- keys -------------------------------------------------------------------------------------

    def identify(self, presented: str | None) -> Principal | None:
        """The principal of the key presented, or None."""
        if not presented:
            return None
        # Header text arrives decoded as latin-1: encoding it back gives the bytes the client sent.
        raw = presented.encode("latin-1", "replace")
        found = None
        for name, key, scopes, ref in self._keys:  # no early exit: the time taken does not say which matched
            if hmac.compare_digest(raw, key):
                found = Principal(name, scopes, ref)
        return found or self.book.identify(raw, self.now())

    def check_ref(self, ref: str) -> Principal | None:
        """The principal a session's key reference names, if that key is still valid."""
        if ref.startswith(CONFIG_REF + ":"):
            return next((Principal(name, scopes, r) for name, _, scopes, r in self._keys if r == ref), None)
        return self.book.check(ref, self.now())

    def _rate_limit(self, principal: Principal) -> int | None:
        return self.rate_limits.get(principal.name) if principal.ref.startswith(CONFIG_REF + ":") else None

    def config_keys(self) -> list[dict[str, Any]]:
        """The config's keys by name and scopes (never the key)."""
        return [{"name": name, "scopes": sorted(scopes)} for name, _, scopes, _ in self._keys]

    @property
    def configured(self) -> bool:
        return bool(self._keys) or self.book.has_keys()

    @staticmethod
    def presented(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            return header[7:].strip()
        key = request.headers.get("x-api-key")
        return key.strip() if key is not None else None

    # -- the dependency ---------------------------------------------------------------------------

    async def __call__(self, request: Request,
                       _bearer: HTTPAuthorizationCredentials | None = Security(BEARER),  # noqa: B008
                       _header: str | None = Security(API_KEY_HEADER),  # noqa: B008
                       _session: str | None = Security(SESSION)) -> str:
        principal = await self.guard(request)
        return principal.name if principal is not None else ""

    async def guard(self, request: Request) -> Principal | None:
        """Authenticate and authorise this request (once; later calls reuse the answer). None for a
        public route."""
        if hasattr(request.state, "principal"):
            return request.state.principal  # type: ignore[no-any-return]
        method = request.method
        path = TABLE.template(method, request.scope["path"]) or request.scope["path"]
        if path in EXEMPT_PATHS and (path != METRICS[1] or self.metrics_public):
            request.state.principal = None  # probes and Prometheus: the concurrency cap alone
            return None
        address = request.client.host if request.client else "unknown"
        _raise(self.limiter.locked_out(address))
        if (method, path) in PUBLIC:
            _raise(self.limiter.anonymous(address))
            request.state.principal = None
            return None
        try:
            principal = await self.authenticate(request)
        except HTTPException as exc:
            if exc.status_code == status.HTTP_401_UNAUTHORIZED:
                if self.presented(request):
                    self.limiter.failed(address)  # a wrong key: brute force is slowed per address
                else:
                    _raise(self.limiter.anonymous(address))
            raise
        _raise(self.limiter.keyed(principal.ref, principal.name, self._rate_limit(principal)))
        needed = required_scope(method, path)
        if not allows(principal.scopes, needed):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                detail=f"the key {principal.name!r} lacks the scope {needed!r} that {method} {path} "
                                       f"needs (it has {', '.join(sorted(principal.scopes)) or 'none'}); use a key "
                                       f"with scope {needed!r} (`vigil keys create --scope {needed}`)")
        now = self.now()
        self.book.note_use(principal, now)
        warning = self.book.warning(principal, now)
        if warning is not None:
            request.state.key_warning = warning  # a response header (vigil.web.headers)
        request.state.principal = principal
        request.state.api_key_name = principal.name
        return principal

    def refused_early(self, method: str, path: str, headers: Mapping[str, str], address: str) -> Refusal | None:
        """The 429 `guard` would answer for a header key already over its rate limit (or an address
        locked out), found before routing: a client bursting past its limit is refused for a fraction
        of a routed request's cost. Only looks (takes no token); None means "route it, `guard` decides"."""
        template = TABLE.template(method, path) or path
        if template in EXEMPT_PATHS and (template != METRICS[1] or self.metrics_public):
            return None
        locked = self.limiter.locked_out(address)
        if locked is not None or (method, template) in PUBLIC:
            return locked
        header = headers.get("authorization", "")
        presented = header[7:].strip() if header[:7].lower() == "bearer " else headers.get("x-api-key", "").strip()
        # The snapshot of stored keys (refreshed by `guard` every few seconds) is enough to name the key.
        principal = self.identify(presented)
        if principal is None:
            return None
        return self.limiter.keyed(principal.ref, principal.name, self._rate_limit(principal), peek=True)

    async def authenticate(self, request: Request) -> Principal:
        await self.book.refresh()
        presented = self.presented(request)
        cookie = request.cookies.get(SESSION_COOKIE)
        if presented is None and request.headers.get("authorization") is None and cookie:
            return await self._from_session(request, cookie)
        if not self.configured:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                                detail="no API keys are configured; add server.api_keys to the config or "
                                       "run `vigil keys create`")
        principal = self.identify(presented)
        if principal is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                                detail="missing or invalid API key; send 'Authorization: Bearer <key>'",
                                headers={"WWW-Authenticate": "Bearer"})
        return principal

    async def _from_session(self, request: Request, cookie: str) -> Principal:
        signer = await self.signer()
        now = self.now()
        session = signer.read(cookie, now)
        if session is None or session.sid in self.logged_out:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="the session is invalid or has expired; "
                                "log in again (POST /api/v1/session) or send an API key",
                                headers={"WWW-Authenticate": "Bearer"})
        current = self.check_ref(session.ref)
        if current is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="the key this session was made from is no "
                                "longer valid (revoked, rotated out or expired); log in again with a valid key",
                                headers={"WWW-Authenticate": "Bearer"})
        if request.method in STATE_CHANGING and not signer.csrf_ok(session, request.headers.get(CSRF_HEADER)):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                detail=f"missing or wrong {CSRF_HEADER} header: a request made with the session "
                                       f"cookie that changes something must send the session's CSRF token (the "
                                       f"vigil_csrf cookie, or csrf_token from POST /api/v1/session) as {CSRF_HEADER}")
        # The session never holds more than its key holds now (scopes can only shrink).
        return Principal(current.name, current.scopes & frozenset(session.scopes), current.ref,
                         session.expires_at, session)


def _raise(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise HTTPException(refusal.status, detail=refusal.detail, headers=refusal.headers)


def _wall_clock() -> float:
    return time.time()


def _monotonic() -> float:
    return time.monotonic()


class EarlyRefusals:
    """ASGI middleware: answers `ApiKeys.refused_early`'s 429 before routing, dependencies and the
    endpoint's thread; everything else goes on to `guard` unchanged."""

    def __init__(self, app: ASGIApp, keys: ApiKeys) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers: dict[str, str] = {}
            for k, v in scope.get("headers") or ():
                name = k.decode("latin-1").lower()
                if name in ("authorization", "x-api-key") and name not in headers:  # the first, as Starlette reads
                    headers[name] = v.decode("latin-1")
            client = scope.get("client")
            refusal = self.keys.refused_early(scope["method"], scope["path"], headers,
                                              client[0] if client else "unknown")
            if refusal is not None:
                await refusal.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)
