"""One demo service process: `python -m vigil.demo.service --name catalog --port 0`.

Every role (see shop.py) gets the same harness: `/health`, Prometheus `/metrics`, and the fault
admin endpoint `/admin/fault`. With `--port 0` the service picks a free port; either way its first
line on stdout is `listening http://HOST:PORT`, so a launcher learns the port without a race.

As one replica of several (`--reuse-port`, `--fault-file`, and `PROMETHEUS_MULTIPROC_DIR` in the
environment), it shares its port, its metrics and its faults with the others: see replicas.py."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import sys
import time
from dataclasses import replace
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from vigil.demo import replicas
from vigil.demo.child import exit_with_parent
from vigil.demo.faults import Fault, FaultError, Leak, leak_forever
from vigil.demo.shop import DEPENDS_ON, ROUTES, Handler

log = logging.getLogger("vigil.demo.service")

CRASH_EXIT_STATUS = 70
DEPENDENCY_TIMEOUT_S = 2.0
DEPENDENCY_HEALTH_TIMEOUT_S = 1.0


class ServiceMetrics:
    """The service's own Prometheus registry (no globals: tests may build several services)."""

    def __init__(self, shared_dir: str | None = None) -> None:
        self.registry = CollectorRegistry()
        self.shared_dir = shared_dir  # replicas: values go to files there, /metrics sums them
        r = self.registry
        self.requests = Counter("http_requests_total", "HTTP requests answered",
                                ["route", "method", "status"], registry=r)
        # One unlabelled series of the whole load: what the autoscaler reads (per replica).
        self.business = Counter("shop_requests_total", "Business requests answered, every route",
                                registry=r)
        self.latency = Histogram("http_request_duration_seconds", "Time to answer a request",
                                 ["route"], registry=r)
        self.errors = Counter("http_request_errors_total", "Requests answered with a 5xx status",
                              ["route"], registry=r)
        # The business errors as one unlabelled series: what a runbook verifies "errors back to normal" on.
        self.business_errors = Counter("shop_errors_total", "Business requests answered with a 5xx, every route",
                                       registry=r)
        self.leaked = Gauge("demo_leaked_bytes", "Memory held by the injected leak", registry=r,
                            multiprocess_mode="livemax")
        self.fault = Gauge("demo_fault", "Current fault knobs (ground truth for evaluation)",
                           ["knob"], registry=r, multiprocess_mode="livemax")
        # The version running (a new value first seen is a deploy, to vigil: incidents/facts.py).
        self.build = Gauge("demo_build_info", "The version this process runs", ["version"], registry=r,
                           multiprocess_mode="livemax")
        # process_resident_memory_bytes: includes the leak, since leaked pages are written.
        self.memory = replicas.memory_gauge(r) if shared_dir else None
        if shared_dir is None:
            ProcessCollector(registry=r)

    def exposition(self) -> bytes:
        if self.shared_dir is None:
            return generate_latest(self.registry)
        return generate_latest(replicas.shared_registry(self.shared_dir))


class ShopService:
    """A demo service: a role's business routes wrapped in health, metrics and fault injection."""

    def __init__(self, name: str, role: str, dependencies: dict[str, str] | None = None,
                 leak_cap_mb: float = 128.0, seed: int | None = None,
                 fault_file: str | None = None, version: str = "1", defect_error_rate: float = 0.0) -> None:
        if role not in ROUTES:
            raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROUTES)}")
        self.name = name
        self.role = role
        self.dependencies = dict(dependencies or {})
        missing = [d for d in DEPENDS_ON[role] if d not in self.dependencies]
        if missing:
            raise ValueError(f"{role} needs the URL of: {', '.join(missing)}")
        if not 0.0 <= defect_error_rate <= 1.0:
            raise ValueError(f"--defect-error-rate must be between 0 and 1; found {defect_error_rate:g}")
        self.rng = random.Random(seed)
        self.version = version
        self.defect = Fault(error_rate=defect_error_rate)  # a bad build's own errors: gone only with the build
        self.fault = Fault()
        self.leak = Leak(leak_cap_mb)
        self.metrics = ServiceMetrics(replicas.multiprocess_dir())
        self.shared = replicas.SharedFaults(fault_file) if fault_file else None
        self.started = time.monotonic()
        self._released = asyncio.Event()  # set while not hung; hung requests wait on it
        self._released.set()
        self._client: aiohttp.ClientSession | None = None
        self._health_client: aiohttp.ClientSession | None = None
        self._business: set[str] = set()
        self._publish_fault()
        self.metrics.build.labels(version).set(1)

    # -- what shop.py needs ------------------------------------------------------------------
    def dependency_url(self, name: str) -> str:
        return self.dependencies[name].rstrip("/")

    def client(self) -> aiohttp.ClientSession:
        if self._client is None:
            self._client = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=DEPENDENCY_TIMEOUT_S),
                connector=aiohttp.TCPConnector(limit=64))
        return self._client

    def health_client(self) -> aiohttp.ClientSession:
        # Its own small pool: health checks never queue behind business calls to a slow dependency.
        if self._health_client is None:
            self._health_client = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=DEPENDENCY_HEALTH_TIMEOUT_S),
                connector=aiohttp.TCPConnector(limit=8))
        return self._health_client

    # -- faults ------------------------------------------------------------------------------
    def set_fault(self, fault: Fault) -> None:
        self.fault = fault
        if fault.hang:
            self._released.clear()
        else:
            self._released.set()
        if fault.leak_mb_per_min == 0:
            self.leak.release()
        self._publish_fault()

    def _publish_fault(self) -> None:
        for knob, value in self.fault.as_dict().items():
            self.metrics.fault.labels(knob).set(float(value))

    # -- the app -----------------------------------------------------------------------------
    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._observe])
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/admin/fault", self._get_fault)
        app.router.add_post("/admin/fault", self._post_fault)
        app.router.add_delete("/admin/fault", self._delete_fault)
        app.router.add_post("/admin/reset-connections", self._reset_connections)
        routes = ROUTES[self.role](self)
        if not any(path == "/" for _, path, _ in routes):
            routes.append(("GET", "/", self._about))
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
            self._business.add(path)
            # Counters exist at 0 from the start (Prometheus practice): an error series that only
            # appears with the first error has no history for a detector to compare against.
            self.metrics.errors.labels(path)
            self.metrics.requests.labels(path, method, "500")
        app.cleanup_ctx.append(self._background)
        return app

    async def _background(self, app: web.Application) -> Any:
        tasks = [asyncio.create_task(leak_forever(lambda: self.fault, self.leak))]
        if self.shared is not None:
            tasks.append(asyncio.create_task(replicas.follow_faults(self.shared, self.set_fault, _crash)))
        if self.metrics.memory is not None:
            tasks.append(asyncio.create_task(self._track_memory()))
        yield
        for task in tasks:
            task.cancel()
        for client in (self._client, self._health_client):
            if client is not None:
                await client.close()

    @web.middleware
    async def _observe(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        if route == "/metrics":
            await self._released.wait()  # a hung process does not answer scrapes either
            return await handler(request)
        start = time.perf_counter()
        status = 500
        try:
            if not route.startswith("/admin"):
                await self._released.wait()
                if self.fault.latency_ms > 0:
                    await asyncio.sleep(self.fault.latency_ms / 1000.0)
            if route in self._business and (self.fault.should_fail(self.rng) or self.defect.should_fail(self.rng)):
                response: web.StreamResponse = web.json_response(
                    {"error": "injected fault", "service": self.name}, status=500)
            else:
                response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = 499  # the client went away (nginx's convention)
            raise
        finally:
            m = self.metrics
            m.requests.labels(route, request.method, str(status)).inc()
            m.latency.labels(route).observe(time.perf_counter() - start)
            if status >= 500:
                m.errors.labels(route).inc()
            if route in self._business:
                m.business.inc()
                if status >= 500:
                    m.business_errors.inc()

    async def _about(self, request: web.Request) -> web.Response:
        return web.json_response({"service": self.name, "role": self.role})

    async def _health(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {"status": "ok", "service": self.name, "pid": os.getpid(),
                                "uptime_s": round(time.monotonic() - self.started, 1)}
        if self.dependencies:
            checks = await asyncio.gather(*(self._dependency_health(u) for u in self.dependencies.values()))
            body["dependencies"] = dict(zip(self.dependencies, checks))
            down = [n for n, s in body["dependencies"].items() if s != "ok"]
            if down:
                body["status"] = "degraded"
                body["reason"] = f"dependencies down: {', '.join(down)}"
        if self.fault.erroring_heavily:
            body["status"] = "erroring"
            body["reason"] = f"error rate {self.fault.error_rate:.0%}"
        return web.json_response(body, status=200 if body["status"] == "ok" else 503)

    async def _dependency_health(self, base_url: str) -> str:
        try:
            async with self.health_client().get(base_url.rstrip("/") + "/health") as r:
                return "ok" if r.status == 200 else f"HTTP {r.status}"
        except TimeoutError:
            return "timeout"
        except aiohttp.ClientError:
            return "unreachable"

    async def _track_memory(self) -> None:
        # Every replica keeps its own value fresh: a scrape is answered by any one of them.
        while True:
            self.metrics.memory.set(replicas.resident_bytes())  # type: ignore[union-attr]
            self.metrics.leaked.set(self.leak.bytes)
            await asyncio.sleep(1.0)

    async def _metrics(self, request: web.Request) -> web.Response:
        self.metrics.leaked.set(self.leak.bytes)
        return web.Response(body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    def _fault_body(self) -> dict[str, Any]:
        return {"service": self.name, "fault": self.fault.as_dict(), "leaked_bytes": self.leak.bytes}

    async def _get_fault(self, request: web.Request) -> web.Response:
        return web.json_response(self._fault_body())

    async def _post_fault(self, request: web.Request) -> web.Response:
        try:
            changes = await request.json()
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        try:
            fault = self.fault.merged(changes)
        except FaultError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        self._publish(fault)
        log.warning("%s: fault set to %s", self.name, fault)
        if fault.crash:
            # Answer first, then die the way a crash does: no cleanup, non-zero status.
            asyncio.get_running_loop().call_later(0.1, _crash)
        return web.json_response(self._fault_body())

    async def _delete_fault(self, request: web.Request) -> web.Response:
        self._publish(Fault())
        log.warning("%s: fault cleared", self.name)
        return web.json_response(self._fault_body())

    async def _reset_connections(self, request: web.Request) -> web.Response:
        """What an operator does for a service gone slow on a degraded connection pool: drop the
        pooled connections to its dependencies. The demo's `latency_ms` fault stands for that
        degradation, so the reset clears it (a restart would too, at the cost of a restart)."""
        clients = [c for c in (self._client, self._health_client) if c is not None]
        self._client = self._health_client = None
        for client in clients:
            await client.close()
        self._publish(replace(self.fault, latency_ms=0.0))
        log.warning("%s: connections reset (%d pools closed)", self.name, len(clients))
        return web.json_response({**self._fault_body(), "pools_closed": len(clients)})

    def _publish(self, fault: Fault) -> None:
        """Apply here at once, and to the other replicas through the shared file."""
        self.set_fault(fault)
        if self.shared is not None:
            self.shared.write(fault)


def _crash() -> None:
    os._exit(CRASH_EXIT_STATUS)


async def serve(service: ShopService, host: str, port: int, parent_pid: int | None = None,
                reuse_port: bool = False) -> None:
    runner = web.AppRunner(service.build_app(), handler_cancellation=True, access_log=None,
                           shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
    bound = runner.addresses[0][1]
    print(f"listening http://{host}:{bound}", flush=True)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the launcher reads one line only
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(exit_with_parent(parent_pid, stop)) if parent_pid else None
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        service.set_fault(Fault())  # release hung requests so shutdown is quick
        await runner.cleanup()
        if service.metrics.shared_dir is not None:  # a replica leaving: its gauges go with it
            replicas.multiprocess.mark_process_dead(os.getpid(), service.metrics.shared_dir)


def _dependency(text: str) -> tuple[str, str]:
    name, sep, url = text.partition("=")
    if not sep or not url.startswith("http"):
        raise argparse.ArgumentTypeError(f"expected NAME=URL, e.g. catalog=http://127.0.0.1:8001; found {text!r}")
    return name, url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vigil.demo.service", description=__doc__)
    parser.add_argument("--name", required=True, help="service name (also its role unless --role)")
    parser.add_argument("--role", choices=list(ROUTES), help="catalog, payments or storefront")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--dependency", action="append", type=_dependency, default=[], metavar="NAME=URL")
    parser.add_argument("--leak-cap-mb", type=float, default=128.0, help="most memory a leak may hold")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this launcher is gone")
    parser.add_argument("--reuse-port", action="store_true", help="share the port with other replicas")
    parser.add_argument("--fault-file", default=None, help="replicas: faults shared through this file")
    parser.add_argument("--log-file", default=None, help="append stderr here (replicas share one log)")
    parser.add_argument("--version", default="1", help="the version this process runs (demo_build_info)")
    parser.add_argument("--defect-error-rate", type=float, default=0.0,
                        help="a bad build: this share of business requests fails, whatever the faults")
    args = parser.parse_args(argv)
    if args.log_file:
        log_fd = os.open(args.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(log_fd, sys.stderr.fileno())
        os.close(log_fd)
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s {os.getpid()} %(name)s %(message)s")
    disable_created_metrics()  # *_created series are noise for the scrape
    try:
        service = ShopService(args.name, args.role or args.name, dict(args.dependency),
                              leak_cap_mb=args.leak_cap_mb, seed=args.seed, fault_file=args.fault_file,
                              version=args.version, defect_error_rate=args.defect_error_rate)
    except ValueError as exc:
        parser.error(str(exc))
    asyncio.run(serve(service, args.host, args.port, parent_pid=args.parent_pid, reuse_port=args.reuse_port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
