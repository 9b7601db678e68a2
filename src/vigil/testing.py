"""Fakes of vigil's plug points, for tests and replay. Shipped with the package so users writing
their own adapters can test them the same way."""

from __future__ import annotations

import asyncio
import heapq
import itertools


class FakeClock:
    """A clock that only moves when told to. `sleep()` parks the caller until `advance()` moves time
    past its deadline, so timeline tests run at full speed and deterministically."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        await fut

    def set(self, ts: float) -> None:
        """Jump to ts without waking sleepers in between one by one (use advance() for that)."""
        self._mono += ts - self._now
        self._now = ts

    async def advance(self, seconds: float, step: float | None = None) -> None:
        """Move time forward by `seconds`, waking each sleeper at its deadline, in order, and
        letting the event loop run what it woke before moving on."""
        target = self._now + seconds
        while True:
            await _settle()
            if not self._sleepers or self._sleepers[0][0] > target:
                break
            deadline, _, fut = heapq.heappop(self._sleepers)
            if deadline > self._now:
                self.set(deadline)
            if not fut.done():
                fut.set_result(None)
        self.set(target)
        await _settle()

    @property
    def pending_sleepers(self) -> int:
        return sum(1 for *_, f in self._sleepers if not f.done())


async def _settle(rounds: int = 20) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)
