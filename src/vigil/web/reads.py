"""The API's short reads (a page of incidents, one incident, the services, recent signals) run on one
thread of their own and are encoded to JSON there.

Why one thread, not FastAPI's pool of forty: Python runs one thread at a time, so reads spread over
many threads only fight the event loop for the interpreter lock. `vigil bench api` measured the cost:
a page of incidents took about twice the CPU with 32 requests in flight on 4 threads as on one, and
the event loop waited behind them. On one thread a read waits its turn instead, and the loop keeps
its share for accepting, routing and sending. Encoding with orjson in the same place keeps
FastAPI's response validation and encoding off the loop too.

Long reads (range queries, reports, exports) are not routed here, so one of them cannot hold the
short ones up; they keep FastAPI's thread pool."""

from __future__ import annotations

import asyncio
import functools
import inspect
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from fastapi import Response

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _fallback(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(value: Any) -> bytes:
    """JSON as the API writes it (numpy arrays and non-string keys allowed; NaN and infinity as null)."""
    return orjson.dumps(value, default=_fallback, option=_OPTIONS)


class ApiReads:
    """Runs an endpoint's blocking read on the API's read thread: `@reads.endpoint` on a plain `def`
    endpoint makes it an `async def` one whose body runs there, answered as JSON (a Response it
    returns is passed through). The signature FastAPI reads (parameters, their defaults, the return
    type for the API description) is the original's."""

    def __init__(self, threads: int = 1) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vigil-api-read")
        weakref.finalize(self, self._pool.shutdown, wait=False)  # an app dropped (tests) frees its thread

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Response:
        def read_and_encode() -> Response:
            out = fn(*args, **kwargs)
            return out if isinstance(out, Response) else Response(encode(out), media_type="application/json")

        return await asyncio.get_running_loop().run_in_executor(self._pool, read_and_encode)

    def endpoint(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def on_read_thread(*args: Any, **kwargs: Any) -> Response:
            return await self.run(fn, *args, **kwargs)

        # Annotations evaluated here, against the endpoint's own module: FastAPI would otherwise
        # resolve the string annotations against this module's names.
        on_read_thread.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined]
        return on_read_thread

    def close(self) -> None:
        self._pool.shutdown(wait=False)
