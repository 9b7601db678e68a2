"""The engine's worker stops promptly: the calls running finish, the queued ones are dropped."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from vigil.writer import Worker


async def test_close_finishes_running_calls_and_drops_queued_ones() -> None:
    worker = Worker(threads=1)
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def running() -> str:
        started.set()
        release.wait(5)
        ran.append("running")
        return "done"

    def queued() -> None:
        time.sleep(2)  # a long read that would otherwise delay the stop
        ran.append("queued")

    first = asyncio.ensure_future(worker.call(running))
    rest = [asyncio.ensure_future(worker.call(queued)) for _ in range(5)]
    await asyncio.to_thread(started.wait, 5)
    closing = asyncio.ensure_future(asyncio.to_thread(worker.close))
    await asyncio.sleep(0.05)
    release.set()
    t = time.monotonic()
    await asyncio.wait_for(closing, 5)
    assert time.monotonic() - t < 1.5  # not 5 x 2 s of queued reads
    assert await first == "done"
    for job in rest:
        with pytest.raises(asyncio.CancelledError):
            await job
    assert ran == ["running"]
