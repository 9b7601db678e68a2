"""Running vigil as a server: engine + API under one event loop, stopped cleanly by SIGINT/SIGTERM
(collection stops, in-flight writes finish, then the process exits).

Start-up order matters: the listening socket is bound first (a second `vigil up` on a used port
fails at once, having touched nothing), then the store is opened, then what command probes of a
killed vigil left running is reaped, and only then does the engine start."""

from __future__ import annotations

import asyncio
import errno
import logging
import secrets
import signal
import socket
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr
from rich.console import Console

from vigil.config import VigilConfig
from vigil.config.redact import Redactor, install_log_masking, secret_values
from vigil.config.schema import ApiKey

log = logging.getLogger("vigil")
T = TypeVar("T")

# Libraries whose INFO lines say nothing an operator needs (alembic: ~10 lines per start).
QUIET_LOGGERS = ("alembic",)


class StartupError(RuntimeError):
    """vigil could not start; the message is one line saying what and how to fix it."""


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on uvloop (installed with uvicorn[standard]) when it is there, else on asyncio's own
    loop. With uvloop the API costs ~10% less CPU per request (docs/benchmarks.md,
    `vigil bench api`), and the API, the probes and the engine's pass share this one loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def with_session_key(config: VigilConfig) -> tuple[VigilConfig, str | None]:
    """Security by default: with no API keys configured, make one for this run only (shown once on
    the terminal, never logged) rather than serve an open API."""
    if config.server.api_keys:
        return config, None
    token = secrets.token_urlsafe(24)
    server = config.server.model_copy(update={"api_keys": [ApiKey(name="session", key=SecretStr(token))]})
    return config.model_copy(update={"server": server}), token


def configure_logging(level: str, console: Console, config: VigilConfig) -> Redactor:
    """vigil's log lines on `console`, with every secret of `config` masked in them."""
    from rich.logging import RichHandler

    logging.basicConfig(level=level.upper(), format="%(message)s", force=True,
                        handlers=[RichHandler(console=console, show_path=False)])
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    redactor = Redactor(secret_values(config))
    install_log_masking(redactor)
    return redactor


def bind_listener(host: str, port: int) -> socket.socket:
    """The API's listening socket, bound before anything else starts."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}; check server.host") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is no conflict
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"port {port} on {host} is already in use (another vigil?); stop that "
                               "process, or choose another port with --port or server.port") from None
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                           "check server.host and server.port") from None
    sock.set_inheritable(False)
    return sock


def alerting_reloader(engine: Any, path: Path) -> Callable[[str], Awaitable[list[str]]]:
    """Reads `path` again and hands its `alerting:` section to the route stage (as Alertmanager reloads
    on SIGHUP and POST /-/reload). Returns the problems found (then nothing changes); the rest of the
    file takes effect at the next start."""
    async def reload(actor: str) -> list[str]:
        from vigil.config import ConfigError, load_config

        who = "signal:SIGHUP" if actor == "SIGHUP" else f"key:{actor}"
        started = engine.clock.monotonic()
        try:
            fresh = await asyncio.to_thread(load_config, path)
        except ConfigError as exc:
            problems = [str(p) for p in exc.problems]
            for p in problems:
                log.error("reload refused: %s", p)
            engine.audit.append(who, "config.reload", "configuration file re-read", {"file": str(path)},
                                {"applied": False, "problems": problems}, engine.clock.monotonic() - started)
            return problems
        await engine.command("route", "reload", {"alerting": fresh.alerting}, actor)
        engine.audit.append(who, "config.reload", "configuration file re-read", {"file": str(path)},
                            {"applied": "alerting"}, engine.clock.monotonic() - started)
        log.info("alerting configuration reloaded from %s (%s)", path, actor)
        return []
    return reload


async def run_server(config: VigilConfig, on_ready: Callable[[str], None] | None = None,
                     stop: asyncio.Event | None = None, config_path: Path | None = None) -> None:
    from vigil.app import build_app, serve
    from vigil.sources.orphans import reap_orphans
    from vigil.store import StoreUnavailable

    sock = bind_listener(config.server.host, config.server.port)
    try:
        app, engine = build_app(config)
    except StoreUnavailable as exc:
        sock.close()
        raise StartupError(str(exc)) from None
    except BaseException:
        sock.close()
        raise
    reap_orphans()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    port = sock.getsockname()[1]  # the real one when server.port is 0
    await engine.start()
    if config_path is not None:
        reload = app.state.reload = alerting_reloader(engine, config_path)
        try:
            loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(reload("SIGHUP")))
        except (NotImplementedError, RuntimeError):
            pass
    ready = asyncio.Event()
    cert, key = config.server.tls_cert, config.server.tls_key
    tls = (cert, key) if cert and key else None  # the config holds both or neither
    server = asyncio.create_task(serve(app, config.server.host, config.server.port, ready, sock=sock, tls=tls))
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({asyncio.create_task(ready.wait()), server}, return_when=asyncio.FIRST_COMPLETED)
        if server.done():
            server.result()  # raises why the server could not start
        if on_ready:
            on_ready(f"{'https' if tls else 'http'}://{config.server.host}:{port}")
        await asyncio.wait({server, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        log.info("stopping: finishing in-flight work")
        server.cancel()
        waiter.cancel()
        await asyncio.gather(server, waiter, return_exceptions=True)
        await engine.stop()
        engine.store.close()
        sock.close()
