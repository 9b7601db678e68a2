"""API keys. Every endpoint except health and metrics requires one, as `Authorization: Bearer KEY`
or `X-API-Key: KEY`. Keys are compared in constant time and never logged or echoed."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status


class ApiKeys:
    def __init__(self, keys: dict[str, str]) -> None:
        self._keys = [(name, key.encode()) for name, key in keys.items()]

    def identify(self, presented: str | None) -> str | None:
        """The name of the key presented, or None."""
        if not presented:
            return None
        raw = presented.encode()
        found = None
        for name, key in self._keys:  # no early exit: the time taken does not say which key matched
            if hmac.compare_digest(raw, key):
                found = name
        return found

    async def __call__(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        presented = header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get("x-api-key")
        if not self._keys:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                                detail="no API keys are configured; add server.api_keys to the config")
        name = self.identify(presented)
        if name is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                                detail="missing or invalid API key; send 'Authorization: Bearer <key>'",
                                headers={"WWW-Authenticate": "Bearer"})
        request.state.api_key_name = name
        return name
