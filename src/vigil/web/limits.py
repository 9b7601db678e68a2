"""What one client can make the API spend: requests in flight, body bytes, large bodies at once.

Over a cap the answer is immediate (429 with Retry-After, or 413): nothing queues, so a load spike
costs the engine's event loop and threads no more than the caps allow."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.web.errors import error

# Probes and Prometheus must get through when the API is saturated: they have their own, smaller cap.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass(frozen=True)
class WebLimits:
    max_concurrent: int = 32  # API requests in flight at once
    max_concurrent_exempt: int = 8  # health and metrics requests in flight at once
    max_body_bytes: int = 64 * 1024 * 1024
    # A body over this is "large": parsing one costs up to ~10x its size in memory, so only a few at once.
    large_body_bytes: int = 1024 * 1024
    max_large_bodies: int = 2
    retry_after_s: int = 1
    # Every other body (alerts in, silences, incidents, login) is JSON of modest size.
    max_request_bytes: int = 8 * 1024 * 1024


class ConcurrencyCap:
    """ASGI middleware: at most `max_concurrent` HTTP requests in flight (health and metrics counted
    apart); the next one gets 429 at once. Counters, not locks: the event loop is single-threaded."""

    def __init__(self, app: ASGIApp, limits: WebLimits) -> None:
        self.app = app
        self.limits = limits
        self.in_flight = 0
        self.exempt_in_flight = 0
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exempt = scope["path"] in EXEMPT_PATHS
        busy = self.exempt_in_flight >= self.limits.max_concurrent_exempt if exempt \
            else self.in_flight >= self.limits.max_concurrent
        if busy:
            self.refused += 1
            cap = self.limits.max_concurrent_exempt if exempt else self.limits.max_concurrent
            response = error(429, f"too many requests in flight (at most {cap}); retry in "
                                  f"{self.limits.retry_after_s} s", {"Retry-After": str(self.limits.retry_after_s)})
            await response(scope, receive, send)
            return
        if exempt:
            self.exempt_in_flight += 1
        else:
            self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            if exempt:
                self.exempt_in_flight -= 1
            else:
                self.in_flight -= 1


STREAMED_PATHS = frozenset({"/api/v1/samples"})  # read by BodyReader with its own, larger cap


class BodyCap:
    """ASGI middleware: a request body (other than a push, which BodyReader caps) over
    `max_request_bytes` is refused with 413: by Content-Length before a byte is read, or the moment the
    stream passes the cap (the route then sees the client gone, and the 413 is what is sent)."""

    def __init__(self, app: ASGIApp, limits: WebLimits) -> None:
        self.app = app
        self.cap = limits.max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in STREAMED_PATHS:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"").strip()
        if declared.isdigit() and (len(declared) > 18 or int(declared) > self.cap):
            refusal = _too_large(f"Content-Length {declared[:20].decode()} bytes", self.cap)
            await refusal.response()(scope, receive, send)
            return
        seen, over, started = 0, False, False

        async def capped() -> Message:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.cap:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if not over:
                started = True
                await send(message)

        try:
            await self.app(scope, capped, guarded)
        except (ClientDisconnect, OSError):
            if not over:
                raise
        if over and not started:
            await _too_large(f"more than {self.cap:,} bytes", self.cap).response()(scope, receive, send)


@dataclass(frozen=True)
class Refusal:
    status: int
    detail: str
    headers: dict[str, str] | None = None

    def response(self) -> JSONResponse:
        return error(self.status, self.detail, self.headers)


_LARGE_SLOT = "vigil.large_body_slot"


class BodyReader:
    """Reads a request body within the limits: refused by Content-Length before a byte is read, and
    while streaming the moment it passes the limit (the rest is never read). A large body holds one of
    `max_large_bodies` slots until release(request)."""

    def __init__(self, limits: WebLimits) -> None:
        self.limits = limits
        self.large_in_flight = 0

    async def read(self, request: Request) -> bytearray | Refusal:
        cap = self.limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            declared = declared.strip()
            if not declared.isdigit() or not declared.isascii():
                return Refusal(400, f"invalid Content-Length {declared[:40]!r}")
            if len(declared) > 18 or int(declared) > cap:
                return _too_large(f"Content-Length {declared[:20]} bytes", cap)
            if int(declared) > self.limits.large_body_bytes and not self._take_slot(request):
                return self._busy()
        body = bytearray()
        try:
            async for chunk in request.stream():
                if len(body) + len(chunk) > cap:
                    return _too_large(f"more than {cap:,} bytes", cap)
                body += chunk
                if len(body) > self.limits.large_body_bytes and not request.scope.get(_LARGE_SLOT) \
                        and not self._take_slot(request):
                    return self._busy()
        except ClientDisconnect:
            return Refusal(400, "the client went away before sending the whole body")
        return body

    def release(self, request: Request) -> None:
        if request.scope.pop(_LARGE_SLOT, False):
            self.large_in_flight -= 1

    def _take_slot(self, request: Request) -> bool:
        if self.large_in_flight >= self.limits.max_large_bodies:
            return False
        self.large_in_flight += 1
        request.scope[_LARGE_SLOT] = True
        return True

    def _busy(self) -> Refusal:
        return Refusal(429, f"too many large bodies (over {self.limits.large_body_bytes:,} bytes) in flight "
                            f"(at most {self.limits.max_large_bodies}); retry in {self.limits.retry_after_s} s, "
                            "or send smaller batches",
                       # close: the server would otherwise go on reading (and discarding) the body
                       {"Retry-After": str(self.limits.retry_after_s), "Connection": "close"})


def _too_large(found: str, cap: int) -> Refusal:
    # Connection: close, so the server does not go on reading (and discarding) the rest of the body.
    return Refusal(413, f"body too large: {found}; at most {cap:,} bytes per request, send smaller batches",
                   {"Connection": "close"})


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "application/json").split(";")[0].strip().lower()


@dataclass(frozen=True)
class RateLimits:
    per_address_per_min: int = 100  # calls without a valid key, from one client address
    per_key_per_min: int = 6000
    failures_per_min: int = 10  # wrong keys from one address; past this the address waits
    max_tracked: int = 100_000  # buckets kept at once (the fullest are dropped first)


class Buckets:
    """Token buckets by name: `capacity` tokens, refilled at capacity per minute. `take` answers 0 when
    a token was taken, else the seconds until one is back. Plain dict and arithmetic: the event loop
    calls this for every request."""

    def __init__(self, capacity: int, clock: Callable[[], float], max_tracked: int = 100_000) -> None:
        self.capacity = float(capacity)
        self.rate = capacity / 60.0
        self.clock = clock
        self.max_tracked = max_tracked
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, name: str, cost: float = 1.0, per_min: int | None = None) -> float:
        capacity = float(per_min) if per_min else self.capacity
        rate = capacity / 60.0
        now = self.clock()
        tokens, last = self._buckets.get(name, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * rate)
        if tokens < cost:
            self._buckets[name] = (tokens, now)
            return (cost - tokens) / rate
        if len(self._buckets) >= self.max_tracked and name not in self._buckets:
            self._prune(now)
        self._buckets[name] = (tokens - cost, now)
        return 0.0

    def wait(self, name: str, per_min: int | None = None) -> float:
        """What `take` would answer, taking nothing: 0 when `name` has a token, else the seconds until it has."""
        if name not in self._buckets:
            return 0.0
        capacity = float(per_min) if per_min else self.capacity
        tokens, last = self._buckets[name]
        tokens = min(capacity, tokens + (self.clock() - last) * capacity / 60.0)
        return 0.0 if tokens >= 1 else (1 - tokens) / (capacity / 60.0)

    def _prune(self, now: float) -> None:
        full = [n for n, (t, last) in self._buckets.items() if t + (now - last) * self.rate >= self.capacity]
        for n in full:
            del self._buckets[n]
        while len(self._buckets) >= self.max_tracked:
            self._buckets.pop(next(iter(self._buckets)))


class RateLimiter:
    """Requests per minute per key, per client address for calls without a valid key, and wrong keys
    per address (brute force): an address past that limit gets 429 for everything until it has waited,
    so guessing costs a minute per ten guesses and a right guess is not told apart while it waits."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.per_key = Buckets(limits.per_key_per_min, clock, limits.max_tracked)
        self.per_address = Buckets(limits.per_address_per_min, clock, limits.max_tracked)
        self.failures = Buckets(limits.failures_per_min, clock, limits.max_tracked)
        self.refused = 0

    def locked_out(self, address: str) -> Refusal | None:
        wait = self.failures.wait(address)
        if wait:
            return self._refuse(wait, f"too many wrong API keys from {address} (at most "
                                      f"{self.limits.failures_per_min} a minute)")
        return None

    def anonymous(self, address: str) -> Refusal | None:
        wait = self.per_address.take(address)
        if wait:
            return self._refuse(wait, f"too many requests without a valid key from {address} (at most "
                                      f"{self.limits.per_address_per_min} a minute)")
        return None

    def failed(self, address: str) -> None:
        self.failures.take(address)
        self.per_address.take(address)

    def keyed(self, ref: str, name: str, per_min: int | None = None, peek: bool = False) -> Refusal | None:
        """Takes a token for the key (with `peek`, only looks: the refusal `take` would give, or None)."""
        wait = self.per_key.wait(ref, per_min) if peek else self.per_key.take(ref, per_min=per_min)
        if wait:
            return self._refuse(wait, f"too many requests with the key {name!r} (at most "
                                      f"{per_min or self.limits.per_key_per_min} a minute)")
        return None

    def _refuse(self, wait: float, why: str) -> Refusal:
        self.refused += 1
        seconds = max(1, math.ceil(wait))
        return Refusal(429, f"rate limited: {why}; retry in {seconds} s", {"Retry-After": str(seconds)})
