"""vigil (engine and API) served on a thread of its own, with its own event loop, on a free loopback
port: how benchmarks and tests that drive a real server from synchronous code (a browser, a fuzzer)
run it, as `vigil up` would."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

START_TIMEOUT_S = 120.0


@contextmanager
def served_in_thread(web: Any, engine: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Start `engine` and serve `web` until the block ends; yields the base URL. The engine is
    stopped and its store closed afterwards."""
    from vigil.app import serve
    from vigil.demo.run import free_port

    port, loop, ready = free_port(), asyncio.new_event_loop(), threading.Event()

    async def run() -> None:
        await engine.start()
        started = asyncio.Event()
        server = asyncio.create_task(serve(web, host, port, started))
        await started.wait()
        ready.set()
        try:
            await server
        finally:
            await engine.stop()
            engine.store.close()

    task = loop.create_task(run())
    thread = threading.Thread(target=lambda: loop.run_until_complete(asyncio.gather(task, return_exceptions=True)),
                              name="vigil-served", daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT_S):
        raise RuntimeError(f"vigil did not start within {START_TIMEOUT_S:g} s")
    try:
        yield f"http://{host}:{port}"
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(60)
        loop.close()
