"""Security headers on every answer, and the key-expiry warning.

A Content-Security-Policy that allows no inline script and nothing from elsewhere (an answer that sets
its own, as the signed-link pages and /docs do, keeps it), `X-Frame-Options: DENY`,
`X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, and under TLS
`Strict-Transport-Security`. When the caller's key ends soon, `X-Vigil-Key-Warning` says so."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HSTS = "max-age=31536000"
KEY_WARNING_HEADER = "X-Vigil-Key-Warning"
_FIXED = ((b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
          (b"referrer-policy", b"no-referrer"))


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = [(k, v) for k, v in _FIXED if k not in present]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", CSP.encode()))
                if scope.get("scheme") == "https":
                    extra.append((b"strict-transport-security", HSTS.encode()))
                warning = (scope.get("state") or {}).get("key_warning")
                if warning:
                    extra.append((KEY_WARNING_HEADER.lower().encode(), warning.encode("latin-1", "replace")))
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, with_headers)
