"""`vigil bench probes`: probe N real local HTTP targets through the real Scheduler and HTTP probe
on the real clock, and report start lag, probe latency and the CPU the probing process used.

The targets are served by separate processes (so their CPU is not counted), each listening on many
loopback ports. The servers exit when their stdin closes, so they go with this process even if it
is killed; on a normal exit, Ctrl-C or an error they are also terminated explicitly."""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
import typer
from rich.console import Console

app = typer.Typer(add_completion=False)
err = Console(stderr=True)

PORTS_PER_PROCESS = 250
_RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
             b"Connection: keep-alive\r\n\r\nok")


# --------------------------------------------------------------------------- the targets

class _Target(asyncio.Protocol):
    """A minimal keep-alive HTTP/1.1 responder: 200 "ok" to every request without a body."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            assert self.transport is not None
            self.transport.write(_RESPONSE)


def serve_targets(count: int) -> None:
    """Child process: listen on `count` free loopback ports, print them as one JSON line, serve
    until stdin closes."""
    async def main() -> None:
        loop = asyncio.get_running_loop()
        ports = []
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            await loop.create_server(_Target, sock=sock)
            ports.append(sock.getsockname()[1])
        sys.stdout.write(json.dumps(ports) + "\n")
        sys.stdout.flush()
        closed = asyncio.Event()
        threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(closed.set)),
                         daemon=True).start()
        await closed.wait()

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    asyncio.run(main())


@contextmanager
def target_servers(targets: int, per_process: int = PORTS_PER_PROCESS) -> Iterator[list[int]]:
    """Start server processes for `targets` ports; yield the ports; always stop the processes."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        remaining = targets
        while remaining > 0:
            n = min(per_process, remaining)
            procs.append(subprocess.Popen(
                [sys.executable, "-c", f"from vigil.bench.probes import serve_targets; serve_targets({n})"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE))
            remaining -= n
        ports: list[int] = []
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"target server {proc.pid} exited with {proc.wait(5)}")
            ports.extend(json.loads(line))
        yield ports
    finally:
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            if proc.stdout is not None:
                proc.stdout.close()


# --------------------------------------------------------------------------- the run

async def _probe(ports: list[int], interval: float, duration: float, max_concurrency: int) -> dict:
    from vigil.clock import SystemClock
    from vigil.config.sources import HttpProbe
    from vigil.sources.http import HttpProbeCollector
    from vigil.sources.http_client import HttpPool
    from vigil.sources.scheduler import Scheduler, SchedulerStats, quantile

    http = HttpPool()
    timeout = min(5.0, interval)
    collectors = [
        HttpProbeCollector(f"svc{i}", "http", HttpProbe.model_validate(
            {"kind": "http", "url": f"http://127.0.0.1:{port}/health", "interval": interval, "timeout": timeout}),
            http)
        for i, port in enumerate(ports)
    ]
    latencies: list[float] = []
    failures = 0
    delivered = 0

    async def deliver(collection) -> None:  # the engine would persist; here we only count
        nonlocal failures, delivered
        delivered += 1
        if collection.probe is not None:
            latencies.append(collection.probe.latency_s)
            failures += 0 if collection.probe.ok else 1

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    # Keep every run's lag: the figure is over the whole run, not the engine's recent window.
    stats = SchedulerStats(reservoir=1_000_000)
    scheduler = Scheduler(collectors, SystemClock(), deliver, max_concurrency=max_concurrency, stats=stats)
    progress = Progress(TextColumn("  probing"), BarColumn(), TextColumn("{task.fields[status]}"),
                        TimeRemainingColumn(), console=err, transient=True)
    cpu0, wall0 = _cpu_seconds(), time.monotonic()
    await scheduler.start()
    try:
        with progress:
            bar = progress.add_task("probe", total=duration, status="")
            deadline = wall0 + duration
            while (left := deadline - time.monotonic()) > 0:
                await asyncio.sleep(min(1.0, left))
                progress.update(bar, completed=duration - max(0.0, deadline - time.monotonic()),
                                status=f"{delivered} probes, {failures} failures")
    finally:
        await scheduler.stop()
    wall, cpu = time.monotonic() - wall0, _cpu_seconds() - cpu0
    err.print(f"  {delivered} probes, {failures} failures in {wall:.1f}s")
    return {
        "targets": len(ports),
        "interval_s": interval,
        "duration_s": round(wall, 3),
        "probes": stats.runs,
        "probes_per_s": round(stats.runs / wall, 2),
        "failures": failures,
        "timeouts": stats.timeouts,
        "skipped_ticks": stats.skipped,
        "start_lag_p50_s": _round(quantile(stats.lags, 0.5)),
        "start_lag_p99_s": _round(quantile(stats.lags, 0.99)),
        "start_lag_max_s": _round(max(stats.lags, default=math.nan)),
        "probe_latency_p50_s": _round(quantile(latencies, 0.5)),
        "probe_latency_p99_s": _round(quantile(latencies, 0.99)),
        "cpu_seconds": round(cpu, 3),
        "cpu_fraction_of_one_core": round(cpu / wall, 4),
        "cpu_ms_per_probe": round(1000 * cpu / max(1, stats.runs), 3),
        "client": "aiohttp",
        "max_concurrency": max_concurrency,
        "cpu_count": os.cpu_count(),
    }


def _raise_open_files_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # this process only, not the target servers
    return usage.ru_utime + usage.ru_stime


def _round(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 6)


@app.command()
def probes(targets: int = typer.Option(1000, min=1, help="number of HTTP targets"),
           interval: float = typer.Option(10.0, min=0.1, help="probe interval, seconds"),
           duration: float = typer.Option(60.0, min=1.0, help="how long to measure, seconds"),
           max_concurrency: int = typer.Option(200, min=1, help="probes in flight at once"),
           as_json: bool = typer.Option(False, "--json", help="print one JSON object on stdout")) -> None:
    """Probe TARGETS local HTTP servers every INTERVAL seconds for DURATION seconds."""
    err.print(f"[bold]bench probes[/]: {targets} targets every {interval:g}s for {duration:g}s")
    _raise_open_files_limit(targets * 2 + 256)  # a pooled connection per target, plus slack
    with target_servers(targets) as ports:
        err.print(f"  {len(ports)} targets listening in {math.ceil(targets / PORTS_PER_PROCESS)} processes")
        result = asyncio.run(_probe(ports, interval, duration, max_concurrency))
    result["start_lag_p99_ok"] = result["start_lag_p99_s"] is not None and result["start_lag_p99_s"] < 1.0
    result["cpu_ok"] = result["cpu_fraction_of_one_core"] < 0.30
    if as_json:
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
        return
    from rich.table import Table

    table = Table(title="vigil bench probes", show_header=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, str(value))
    Console().print(table)
