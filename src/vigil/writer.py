"""Where blocking work runs: the one store writer, and a worker for reads and heavy computation.

SQLite allows one writer at a time; serialising every write on one dedicated thread, in arrival
order (instead of letting threads contend for the lock), keeps transactions short and makes "a batch
is written whole or not at all" easy to reason about. Reads (the API) use their own connections and
do not go through the writer. Both classes implement `pipeline.Offload`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class StoreWriter:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vigil-writer")
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        self._in_flight += 1
        try:
            # shield: a cancelled caller must not abandon a write half-way; the write finishes.
            return await asyncio.shield(loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs)))
        finally:
            self._in_flight -= 1

    def call_blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """From a worker thread: hand the write to the writer thread and wait (no hop via the loop)."""
        return self._pool.submit(fn, *args, **kwargs).result()

    def close(self) -> None:
        """Wait for queued writes to finish, then stop the thread."""
        self._pool.shutdown(wait=True)


class Worker:
    """Blocking reads and computation (rule windows, model fits, state loads), on a small pool."""

    def __init__(self, threads: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vigil-worker")
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self._in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(*args, **kwargs))
        finally:
            self._in_flight -= 1

    def call_blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self._pool.submit(fn, *args, **kwargs).result()

    def close(self) -> None:
        """Let the calls running finish; drop the queued ones (reads and computations, nothing
        half-done: their callers get CancelledError). Waiting for the queue too made `vigil up` take
        20 minutes to stop with 50 open incidents' root-cause rankings queued, each ~10 s."""
        self._pool.shutdown(wait=True, cancel_futures=True)
