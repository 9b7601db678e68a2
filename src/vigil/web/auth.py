"""API keys. Every endpoint except health and metrics requires one, as `Authorization: Bearer KEY`
or `X-API-Key: KEY`. Both are read the same way (surrounding whitespace stripped; configured keys
cannot have any). Keys are compared in constant time and never logged or echoed."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

# Declared for the OpenAPI description (either scheme will do); the headers are read below.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", description="`Authorization: Bearer <key>`")
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey",
                              description="`X-API-Key: <key>`")


class ApiKeys:
    def __init__(self, keys: dict[str, str]) -> None:
        self._keys = [(name, key.encode("utf-8")) for name, key in keys.items()]

    def identify(self, presented: str | None) -> str | None:
        """The name of the key presented, or None."""
        if not presented:
            return None
        # Header text arrives decoded as latin-1: encoding it back gives the bytes the client sent.
        raw = presented.encode("latin-1", "replace")
        found = None
        for name, key in self._keys:  # no early exit: the time taken does not say which key matched
            if hmac.compare_digest(raw, key):
                found = name
        return found

    @staticmethod
    def presented(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            return header[7:].strip()
        key = request.headers.get("x-api-key")
        return key.strip() if key is not None else None

    async def __call__(self, request: Request,
                       _bearer: HTTPAuthorizationCredentials | None = Security(BEARER),  # noqa: B008
                       _header: str | None = Security(API_KEY_HEADER)) -> str:
        if not self._keys:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                                detail="no API keys are configured; add server.api_keys to the config")
        name = self.identify(self.presented(request))
        if name is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                                detail="missing or invalid API key; send 'Authorization: Bearer <key>'",
                                headers={"WWW-Authenticate": "Bearer"})
        request.state.api_key_name = name
        return name
