"""`vigil bench incidents`: alert ingest, signal to notification, and outbox delivery, through a real
`vigil up` (uvicorn on a loopback port, a SQLite store in a temporary folder) pinned to one core.

- Ingest: this process (the load, on the other cores) POSTs batches alternately to `/api/v2/alerts`
  (Alertmanager's API, what Prometheus sends) and `/api/v1/alerts/webhook` (payload version 4, with
  each alert's fingerprint), several requests in flight. An answer comes once the alerts are recorded
  by a pass of the engine, so the rate is of alerts taken, stored, placed into incidents and routed.
  The open count is filled up to each checkpoint (e.g. 1k, 5k, 20k) and held there while a window is
  measured: each batch resolves the oldest half and fires as many new ones (changes: the costly path).
  The server's CPU seconds per alert at each checkpoint, divided by those at the first, are set
  beside log(n) / log(n_first): cost per alert grows no faster than log n when the first ratio is at
  most the second. At the largest count, a resend round (every open alert sent again, as Prometheus
  re-sends its firing alerts) is measured too.
- Signal to notification: with the alerts still open, single new alerts (each a new group) are
  POSTed one at a time, and the time to the first webhook notice naming each, at a loopback receiver
  (a child process), less the route's group_wait, is the latency.
- Outbox delivery: `vigil.bench.outbox.measure` (the outbox to a loopback webhook, with its own
  baseline of direct sends), 32 deliveries under way (`--outbox-concurrency`)."""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import typer
from rich.console import Console
from rich.table import Table

from vigil.model import Alert, AlertStatus

app = typer.Typer(add_completion=False)

KEY = "bench-incidents-key-0123456789"
SERVICES = 50
ALERTNAMES = 10

def _free_port() -> int:
    from vigil.demo.run import free_port

    return free_port()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def config_text(db: Path, port: int, sink_url: str, group_wait: float, tick: float) -> str:
    """50 services in a tree (each calls its parent), one route grouping by alertname and service to
    the loopback sink; alerts without endsAt stay open an hour (the bench re-sends within that)."""
    services = "\n".join(f"  - name: svc{i}" + (f"\n    depends_on: [svc{(i - 1) // 2}]" if i else "")
                         for i in range(SERVICES))
    return f"""
store: {{url: "sqlite:///{db}"}}
server: {{port: {port}, api_keys: [{{name: bench, key: "{KEY}"}}]}}
engine: {{tick: {tick:g}s}}
services:
{services}
alerting:
  global: {{resolve_timeout: 1h}}
  route:
    receiver: sink
    group_by: [alertname, service]
    group_wait: {group_wait:g}s
    group_interval: 5s
    repeat_interval: 1h
  receivers:
    - name: sink
      webhook_configs: [{{url: "{sink_url}"}}]
"""


def bench_alert(i: int) -> dict[str, str]:
    return {"alertname": f"BenchAlert{i % ALERTNAMES}", "service": f"svc{i % SERVICES}", "instance": f"i-{i}",
            "severity": "warning"}


class Load:
    """Batches of alerts to the running vigil, alternating the two endpoints."""

    def __init__(self, base: str, concurrency: int, batch: int) -> None:
        self.base, self.batch = base, batch
        self.http = httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=120)
        self.gate = asyncio.Semaphore(concurrency)
        self.concurrency = concurrency
        self.started: dict[int, float] = {}  # alert index -> startsAt, for those open
        self.next_i = 0
        self.sent = 0
        self._turn = 0

    async def close(self) -> None:
        await self.http.aclose()

    def _payload(self, firing: list[int], resolved: list[int], now: float) -> tuple[str, bytes]:
        self._turn += 1
        if self._turn % 2:  # Alertmanager's API: a resolved alert has an endsAt in the past
            doc: Any = [{"labels": bench_alert(i), "annotations": {"summary": "bench"},
                         "startsAt": _iso(self.started[i])} for i in firing]
            doc += [{"labels": bench_alert(i), "startsAt": _iso(self.started[i]), "endsAt": _iso(now - 0.001)}
                    for i in resolved]
            return "/api/v2/alerts", orjson.dumps(doc)
        alerts = []
        for i, status in [(i, "firing") for i in firing] + [(i, "resolved") for i in resolved]:
            labels = bench_alert(i)
            fp = Alert(labels, AlertStatus(status), self.started[i], None, {}, "bench").fingerprint
            alerts.append({"status": status, "labels": labels, "annotations": {"summary": "bench"},
                           "startsAt": _iso(self.started[i]),
                           "endsAt": _iso(now) if status == "resolved" else "0001-01-01T00:00:00Z",
                           "generatorURL": "", "fingerprint": fp})
        doc = {"version": "4", "groupKey": f"{{}}:{{bench=\"{self._turn}\"}}", "status": "firing",
               "receiver": "vigil", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
               "externalURL": "http://alertmanager.bench", "truncatedAlerts": 0, "alerts": alerts}
        return "/api/v1/alerts/webhook", orjson.dumps(doc)

    async def send(self, firing: list[int], resolved: list[int]) -> None:
        async with self.gate:
            now = time.time()
            for i in firing:
                self.started.setdefault(i, now)
            path, body = self._payload(firing, resolved, now)
            r = await self.http.post(path, content=body, headers={"Content-Type": "application/json"})
            if r.status_code != 200:
                raise RuntimeError(f"vigil answered {r.status_code} to {path}: {r.text[:300]}")
            for i in resolved:
                self.started.pop(i, None)
            self.sent += len(firing) + len(resolved)

    def new(self, n: int) -> list[int]:
        out = list(range(self.next_i, self.next_i + n))
        self.next_i += n
        return out

    async def fill(self, open_target: int) -> None:
        """New alerts until `open_target` are open, `concurrency` requests at a time."""
        while len(self.started) < open_target:
            wave: list[list[int]] = []
            left = open_target - len(self.started)
            while left > 0 and len(wave) < self.concurrency:
                wave.append(self.new(min(self.batch, left)))
                left -= len(wave[-1])
            await asyncio.gather(*(self.send(f, []) for f in wave))

    async def churn(self, alerts: int) -> int:
        """About `alerts` changes at a steady open count, in waves of requests in flight: each request
        resolves `batch / 2` of the oldest open alerts and fires as many new ones. Returns the count."""
        half = self.batch // 2
        done = 0
        while done < alerts:
            oldest = sorted(self.started)
            wave = min(self.concurrency, max(1, len(oldest) // half), -(-(alerts - done) // (2 * half)))
            jobs = [(self.new(half), oldest[k * half:(k + 1) * half]) for k in range(wave)]
            await asyncio.gather(*(self.send(f, r) for f, r in jobs))
            done += sum(len(f) + len(r) for f, r in jobs)
        return done

    async def resend(self) -> None:
        """Every open alert sent again (what Prometheus does each evaluation)."""
        ids = sorted(self.started)
        await asyncio.gather(*(self.send(ids[k:k + self.batch], []) for k in range(0, len(ids), self.batch)))


async def _measured(server: psutil.Process, work: Any) -> tuple[Any, float, float]:
    """(result, wall seconds, server CPU seconds) of one awaited piece of work."""
    c0 = server.cpu_times()
    t0 = time.perf_counter()
    result = await work
    wall = time.perf_counter() - t0
    c1 = server.cpu_times()
    return result, wall, (c1.user + c1.system) - (c0.user + c0.system)


async def _sink_log(sink: str, since: int) -> list[list[Any]]:
    async with httpx.AsyncClient(timeout=10) as h:
        return list((await h.get(f"{sink}/log", params={"since": since})).json()["log"])


async def latency(load: Load, sink: str, trials: int, group_wait: float, timeout: float) -> list[float]:
    """Send one alert of a new group at a time; seconds from sending to its first notice, less group_wait."""
    out = []
    async with httpx.AsyncClient(timeout=10) as h:
        seen = int((await h.get(f"{sink}/log")).json()["n"])
    for k in range(trials):
        name = f"Latency{k}"
        # a service of its own: no dependency inhibits it, it opens an incident of its own
        labels = {"alertname": name, "service": f"edge{k}", "severity": "critical"}
        sent = time.time()
        r = await load.http.post("/api/v2/alerts", json=[{"labels": labels, "startsAt": _iso(sent)}])
        if r.status_code != 200:
            raise RuntimeError(f"vigil answered {r.status_code}: {r.text[:300]}")
        deadline = time.monotonic() + timeout
        arrived = None
        while arrived is None:
            for at, names in await _sink_log(sink, seen):
                if name in names:
                    arrived = at
                    break
            if arrived is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no notification for {name} within {timeout:g} s")
                await asyncio.sleep(0.02)
        out.append(arrived - sent - group_wait)
    return out


def _start_vigil(cfg: Path, core: int, log: Any) -> subprocess.Popen[bytes]:
    vigil = Path(sys.executable).parent / "vigil"
    return subprocess.Popen([str(vigil), "up", "-c", str(cfg)], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=lambda: os.sched_setaffinity(0, {core}))  # every thread on one core


def _wait_ready(base: str, proc: subprocess.Popen[bytes], seconds: float, log_path: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("vigil up exited:\n" + log_path.read_text()[-2000:])
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"vigil up was not ready within {seconds:g} s:\n" + log_path.read_text()[-2000:])


def _stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


async def _ingest(base: str, server: psutil.Process, sink: str, opts: dict[str, Any],
                  say: Callable[[str], None]) -> dict[str, Any]:
    load = Load(base, opts["concurrency"], opts["batch"])
    try:
        points = []
        for n in opts["checkpoints"]:
            say(f"filling to {n} open alerts")
            await load.fill(n)
            await asyncio.sleep(opts["settle"])  # the fill's group notices go out before the window
            changed, wall, cpu = await _measured(server, load.churn(opts["window"]))
            points.append({"open_alerts": n, "alerts": changed, "seconds": round(wall, 3),
                           "cpu_seconds": round(cpu, 3), "alerts_per_s": round(changed / wall, 1),
                           "alerts_per_cpu_s": round(changed / cpu, 1) if cpu > 0 else None,
                           "cpu_us_per_alert": round(1e6 * cpu / changed, 1)})
            say(f"  {n} open: {changed / wall:,.0f} alerts/s, {1e6 * cpu / changed:,.0f} µs CPU per alert")
        top = points[-1]
        say(f"resending all {len(load.started)} open alerts")
        resent = len(load.started)
        _, r_wall, r_cpu = await _measured(server, load.resend())
        first = points[0]
        for p in points:
            p["cost_ratio"] = round(p["cpu_us_per_alert"] / first["cpu_us_per_alert"], 3)
            p["log_ratio"] = round(math.log(p["open_alerts"]) / math.log(first["open_alerts"]), 3)
        say("signal to notification")
        lat = await latency(load, sink, opts["trials"], opts["group_wait"], opts["group_wait"] + 30)
    finally:
        await load.close()
    lat_sorted = sorted(lat)
    p95 = lat_sorted[min(len(lat) - 1, math.ceil(0.95 * len(lat)) - 1)]
    return {
        "alerts_per_s": top["alerts_per_s"], "open_alerts": top["open_alerts"],
        "alerts_per_cpu_s": top["alerts_per_cpu_s"], "cpu_seconds": top["cpu_seconds"],
        "resend_alerts_per_s": round(resent / r_wall, 1), "resend_cpu_seconds": round(r_cpu, 3),
        "resend_alerts": resent,
        "cost_by_open_alerts": points,
        "cost_grows_no_faster_than_log": all(p["cost_ratio"] <= p["log_ratio"] for p in points),
        "signal_to_notification_s_p95": round(p95, 3),
        "signal_to_notification_s_median": round(statistics.median(lat), 3),
        "signal_to_notification_s_max": round(max(lat), 3),
        "signal_to_notification_trials": len(lat),
        "group_wait_s": opts["group_wait"], "engine_tick_s": opts["tick"],
        "batch": opts["batch"], "concurrency": opts["concurrency"],
    }


def run(opts: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    cores = sorted(os.sched_getaffinity(0))
    core = cores[0]
    others = set(cores[1:]) or {core}
    from vigil.bench.outbox import measure, start_receiver

    sink_proc, sink = start_receiver()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            port = _free_port()
            cfg = Path(tmp) / "vigil.yaml"
            cfg.write_text(config_text(Path(tmp) / "vigil.db", port, f"{sink}/hook", opts["group_wait"],
                                       opts["tick"]))
            log_path = Path(tmp) / "vigil.log"
            with open(log_path, "wb") as log:
                proc = _start_vigil(cfg, core, log)
                mine = os.sched_getaffinity(0)
                os.sched_setaffinity(0, others)  # the load runs beside the server, not on its core
                try:
                    base = f"http://127.0.0.1:{port}"
                    _wait_ready(base, proc, 90, log_path)
                    out = asyncio.run(_ingest(base, psutil.Process(proc.pid), sink, opts, say))
                finally:
                    os.sched_setaffinity(0, mine)
                    _stop(proc)
    finally:
        _stop(sink_proc)
    out["server_core"] = core
    say(f"outbox: {opts['notifications']} notifications")
    box = measure(opts["notifications"], concurrency=opts["outbox_concurrency"])
    out["outbox_notifications_per_s"] = box["outbox_notifications_per_s"]
    out["outbox"] = box
    return out


@app.command()
def main(
    open_alerts: str = typer.Option("1000,5000,20000", "--open-alerts",
                                    help="open counts to measure at, comma-separated; the last is the headline"),
    window: int = typer.Option(4000, help="alerts changed in each measured window"),
    batch: int = typer.Option(500, help="alerts per request"),
    concurrency: int = typer.Option(4, help="requests in flight"),
    group_wait: float = typer.Option(1.0, "--group-wait", help="the route's group_wait (s)"),
    tick: float = typer.Option(1.0, help="engine.tick of the vigil under test (s)"),
    trials: int = typer.Option(20, help="single alerts timed from sending to their first notification"),
    notifications: int = typer.Option(5000, help="notifications through the outbox"),
    outbox_concurrency: int = typer.Option(32, help="deliveries under way at once (outbox max_in_flight, 32 by "
                                                    "default; max_in_flight_per_endpoint raised to match: the "
                                                    "bench has one endpoint)"),
    settle: float = typer.Option(2.0, help="pause after each fill, before its window (s)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Alert ingest (20,000 open, one core), signal to notification, outbox delivery (issue 11)."""
    console = Console(stderr=True)
    try:
        checkpoints = sorted({int(x) for x in open_alerts.split(",") if x.strip()})
    except ValueError:
        console.print(f"--open-alerts takes whole numbers separated by commas; found {open_alerts!r}")
        raise typer.Exit(2) from None
    if not checkpoints or checkpoints[0] < 2 or batch < 2:
        console.print("--open-alerts needs counts of at least 2, --batch at least 2")
        raise typer.Exit(2)
    opts = {"checkpoints": checkpoints, "window": window, "batch": batch, "concurrency": concurrency,
            "group_wait": group_wait, "tick": tick, "trials": trials, "notifications": notifications,
            "outbox_concurrency": outbox_concurrency,
            "settle": settle}

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    out = run(opts, say)
    if as_json:
        print(orjson.dumps(out).decode())
        return
    table = Table(title="vigil bench incidents (server pinned to one core)")
    for col in ("open alerts", "alerts/s", "alerts per CPU-s", "µs CPU per alert", "cost ratio", "log ratio"):
        table.add_column(col)
    for p in out["cost_by_open_alerts"]:
        table.add_row(f"{p['open_alerts']:,}", f"{p['alerts_per_s']:,.0f}", f"{p['alerts_per_cpu_s'] or 0:,.0f}",
                      f"{p['cpu_us_per_alert']:,.0f}", f"{p['cost_ratio']:.2f}", f"{p['log_ratio']:.2f}")
    Console().print(table)
    Console().print(f"resend of {out['resend_alerts']:,} open alerts: {out['resend_alerts_per_s']:,.0f} alerts/s\n"
                    f"signal to notification p95: {out['signal_to_notification_s_p95']:.3f} s beyond group_wait "
                    f"{out['group_wait_s']:g} s (target < 1 s)\n"
                    f"outbox: {out['outbox_notifications_per_s']:,.0f} notifications/s (target >= 500)")
