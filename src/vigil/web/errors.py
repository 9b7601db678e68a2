"""Error answers: their documented shapes (so clients and fuzzers see every status the API can give)
and the store-outage answer, 503 with Retry-After, logged once per outage."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from vigil.store.errors import is_outage, outage_kind, outage_reason

log = logging.getLogger("vigil.web")

STORE_RETRY_AFTER_S = 5


class BatchRejection(BaseModel):
    error: str = Field(description="what was wrong with the batch; nothing was written")
    errors: list[dict[str, Any]] = Field(description="the first problems, each with its item index or line")
    error_count: int | None = Field(None, description="how many problems were found in all")
    errors_listed: int | None = Field(None, description="how many of them are listed in `errors`")


class ErrorBody(BaseModel):
    detail: str | BatchRejection = Field(description="what is wrong and how to fix it")


_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                                "schema": {"type": "integer"}}}
_DESCRIPTIONS = {
    400: "Malformed input; the message names what is wrong and what is expected",
    401: "Missing or invalid API key or session",
    403: "The key lacks the scope this route needs, or a session request lacks its CSRF token",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Request body too large",
    415: "Unsupported content type",
    429: "Too many requests in flight; retry after Retry-After seconds",
    503: "The store is unavailable; retry after Retry-After seconds",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these error statuses."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _DESCRIPTIONS[code]}
        if code in (429, 503):
            entry["headers"] = _RETRY_AFTER
        out[code] = entry
    return out


def error(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class StoreOutage:
    """Answers 503 while the store fails. The first failure of an outage is logged (one line, no
    traceback); later ones are counted, not logged. An outage ends after `quiet_s` without a store
    failure; the next failure after that starts a new one and is logged again."""

    def __init__(self, quiet_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.quiet_s = quiet_s
        self._clock = clock
        self._last: float | None = None
        self.failures = 0  # in the current outage
        self.outages = 0

    def answer(self, exc: BaseException) -> JSONResponse:
        now = self._clock()
        if self._last is None or now - self._last > self.quiet_s:
            self.outages += 1
            self.failures = 0
            log.warning("store unavailable (%s): API requests that need it get 503 until it answers again",
                        outage_reason(exc))
        self.failures += 1
        self._last = now
        # The client learns the kind of failure; the log has the database's own words (host, port).
        return error(503, f"store unavailable ({outage_kind(exc)}); retry in {STORE_RETRY_AFTER_S} s",
                     {"Retry-After": str(STORE_RETRY_AFTER_S)})

    async def handler(self, request: Request, exc: Exception) -> JSONResponse:
        if not is_outage(exc):  # a database error that is a bug, not an outage: the usual 500
            log.error("store error on %s %s", request.method, request.url.path, exc_info=exc)
            return error(500, "internal error in the store; see vigil's log")
        return self.answer(exc)
