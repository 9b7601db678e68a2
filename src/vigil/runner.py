"""Running vigil as a server: engine + API under one event loop, stopped cleanly by SIGINT/SIGTERM
(collection stops, in-flight writes finish, then the process exits)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from typing import Callable

from pydantic import SecretStr

from vigil.config import VigilConfig
from vigil.config.schema import ApiKey

log = logging.getLogger("vigil")


def with_session_key(config: VigilConfig) -> tuple[VigilConfig, str | None]:
    """Security by default: with no API keys configured, make one for this run only (shown once on
    the terminal, never logged) rather than serve an open API."""
    if config.server.api_keys:
        return config, None
    token = secrets.token_urlsafe(24)
    server = config.server.model_copy(update={"api_keys": [ApiKey(name="session", key=SecretStr(token))]})
    return config.model_copy(update={"server": server}), token


async def run_server(config: VigilConfig, on_ready: Callable[[str], None] | None = None,
                     stop: asyncio.Event | None = None) -> None:
    from vigil.app import build_app, serve

    app, engine = build_app(config)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    await engine.start()
    ready = asyncio.Event()
    server = asyncio.create_task(serve(app, config.server.host, config.server.port, ready))
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({asyncio.create_task(ready.wait()), server}, return_when=asyncio.FIRST_COMPLETED)
        if server.done():
            server.result()  # raises why the server could not start (e.g. port in use)
        if on_ready:
            on_ready(f"http://{config.server.host}:{config.server.port}")
        await asyncio.wait({server, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        log.info("stopping: finishing in-flight work")
        server.cancel()
        waiter.cancel()
        await asyncio.gather(server, waiter, return_exceptions=True)
        await engine.stop()
        engine.store.close()
