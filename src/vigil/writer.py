"""One writer: every write to the store runs on a single dedicated thread, in arrival order.

SQLite allows one writer at a time; serialising writes here (instead of letting threads contend for
the lock) keeps transactions short and makes "a batch is written whole or not at all" easy to reason
about. Reads (the API) use their own connections and do not go through the writer."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

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

    def close(self) -> None:
        """Wait for queued writes to finish, then stop the thread."""
        self._pool.shutdown(wait=True)
