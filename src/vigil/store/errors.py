"""Which store failures are outages (the database cannot be reached or used right now: retry later)
rather than bugs, and a one-line reason for them that names no SQL, parameters or credentials."""

from __future__ import annotations

import sqlalchemy.exc as sa_exc


class StoreUnavailable(Exception):
    """The store cannot serve requests right now."""


# Every failure the store can raise, for callers that answer them (web/errors decides per instance).
STORE_ERRORS: tuple[type[Exception], ...] = (sa_exc.DBAPIError, sa_exc.TimeoutError, sa_exc.DisconnectionError,
                                             StoreUnavailable)
# DBAPIError subclasses that are mistakes in what was sent (a bug), not the database being away.
_BUGS = (sa_exc.IntegrityError, sa_exc.ProgrammingError, sa_exc.DataError, sa_exc.NotSupportedError)


def is_outage(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError):
        return not isinstance(exc, _BUGS)  # operational, interface, or a database file gone bad
    return isinstance(exc, (sa_exc.TimeoutError, sa_exc.DisconnectionError, StoreUnavailable))


def outage_reason(exc: BaseException) -> str:
    if isinstance(exc, sa_exc.TimeoutError):
        return "no database connection became free in time"
    cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    text = str(cause).strip().splitlines()
    first = text[0].strip() if text else ""
    first = first if len(first) <= 200 else first[:200] + "..."
    return f"{type(cause).__name__}: {first}" if first else type(cause).__name__


def outage_kind(exc: BaseException) -> str:
    """The failure's class only (e.g. OperationalError): what an API client may be told."""
    if isinstance(exc, sa_exc.TimeoutError):
        return "connection pool exhausted"
    cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    return type(cause).__name__
