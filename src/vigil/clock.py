"""Time for the engine. Nothing in the engine reads the wall clock directly: it is handed a Clock,
so the same code runs live, in tests on a FakeClock (vigil.testing), and in replay at full speed."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for measuring durations)."""

    async def sleep(self, seconds: float) -> None:
        """Wait until now() has advanced by `seconds`."""


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
