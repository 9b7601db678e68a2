"""`vigil bench api`: the API of a real `vigil up` process under load from another process on loopback.

The store is generated first (10,000 incidents over 1,000 services, a year of hourly roll-ups for one
series per service, written in bulk). Then `vigil up` serves it, with probes of its own /healthz
every second, and a load process (plain asyncio keep-alive HTTP/1.1, open loop: each request is
timed from when it was due, so a slow server cannot hide queueing) sends
  1. `GET /api/v1/incidents` and `GET /api/v1/incidents/{id}` at `--rps` (200) for `--steady-s`, after
     `--warmup-s` (10) of the same load that is not counted (SQLite's page cache fills, the engine's
     start-up work ends);
  2. a burst at `--burst-rps` (1,000) for `--burst-s` (60) with one key at its rate limit
     (server.rate_limit_per_key, 6,000 a minute): 429s beyond it, never 5xx;
while /metrics is read every half second for the event loop lag and the probes' start lag.
`overview_interactive_s` is the time headless Debian chromium (Playwright, no browser download) takes
from opening `/` to `document.body.dataset.ready === "1"`; null when no dashboard is served or
Playwright is not installed (said in `overview_note`)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

app = typer.Typer(add_completion=False)
err = Console(stderr=True)

KEY_STEADY = "bench-steady-key-0123456789abcdef"
KEY_BURST = "bench-burst-key-0123456789abcdef0"
PROBED = 20  # services whose probe (vigil's own /healthz, every second) shows the schedule keeping time
STEADY_CONNS = 32  # per kind (list, detail): far more than 100 a second at 50 ms needs
# The burst's client holds more connections than the server admits at once (WebLimits.max_concurrent, 32),
# so what is over the cap is refused by the server (429 at once), not queued in the client's own pool.
BURST_CONNS = 256


def _say(msg: str) -> None:
    if err.is_terminal:
        err.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {msg}", highlight=False)
    else:
        print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the store

def build_store(db: Path, incidents: int, services: int, rollup_days: int, now: float) -> None:
    """Write the incidents, one series per service with `rollup_days` of hourly roll-ups, in bulk."""
    from vigil.incidents.model import Incident, IncidentStatus, Member
    from vigil.model import Sample, SeriesKey, Severity
    from vigil.store import open_store

    store = open_store(f"sqlite:///{db}")
    try:
        rng = random.Random(7)
        names = [f"svc-{i:04d}" for i in range(services)]
        batch, members = [], []
        for i in range(1, incidents + 1):
            opened = now - (incidents - i) * 3000.0
            svc = names[i % services]
            resolved = i < incidents - 50
            batch.append(Incident(i, f"{svc}: latency above objective", IncidentStatus.RESOLVED if resolved
                                  else IncidentStatus.OPEN, rng.choice(list(Severity)), svc, opened, opened + 600,
                                  services=[svc], resolved_at=opened + 600 if resolved else None,
                                  root_causes=[{"service": svc, "score": 0.9, "why": "latency shift"}],
                                  summary="p99 latency rose after a deploy"))
            members.append(Member(i, f"{i:016x}", "HighLatency", svc, "warning", opened, "same service",
                                  firing=not resolved, changed_at=opened))
        store.write_incidents(batch, members, [])
        store.write_samples([Sample(SeriesKey.of("latency_ms", {"service": n}), now, 1.0) for n in names])
        write_hourly_rollups(store, rollup_days, now)
    finally:
        store.close()


def write_hourly_rollups(store: Any, days: int, now: float) -> None:
    """`days` of hourly roll-ups (60 samples an hour, mean 120) for every series in the store, in bulk
    rows: the benches' own shortcut past the writer, for a store that looks a year old. The roll-up
    mark is moved to the hour before `now`, as maintain() would: queries read stored roll-ups only
    for hours before it."""
    import numpy as np
    import sqlalchemy as sa

    from vigil.store.codec import raw_f8
    from vigil.store.maintenance import ROLLUP_MARK, get_mark, set_mark
    from vigil.store.schema import rollups, series

    day0 = np.floor((now - days * 86400.0) / 86400.0) * 86400.0
    grid = np.zeros((4, 24))
    grid[0], grid[1], grid[2], grid[3] = 60.0, 60.0 * 120.0, 80.0, 300.0
    blob = raw_f8(grid)
    with store._db.write.begin() as conn:  # noqa: SLF001
        ids = [r.id for r in conn.execute(sa.select(series.c.id))]
        rows = [{"resolution": "1h", "series_id": sid, "t0": float(day0 + d * 86400.0), "data": blob}
                for sid in ids for d in range(days)]
        for i in range(0, len(rows), 20_000):
            conn.execute(sa.insert(rollups), rows[i:i + 20_000])
        hour = float(np.floor(now / 3600.0) * 3600.0)
        if get_mark(conn, ROLLUP_MARK) < hour:
            set_mark(conn, ROLLUP_MARK, hour)


def write_config(path: Path, db: Path, port: int, services: int) -> None:
    lines = [f'store: {{url: "sqlite:///{db}"}}',
             f"server: {{port: {port}, api_keys: [{{name: steady, key: {KEY_STEADY}, rate_limit_per_min: 600000}},"
             f" {{name: burst, key: {KEY_BURST}}}]}}", "services:"]
    for i in range(services):
        lines.append(f"  - name: svc-{i:04d}")
        if i < PROBED:
            lines.append(f'    probes: [{{kind: http, url: "http://127.0.0.1:{port}/healthz", interval: 1s, '
                         'timeout: 1s}]')
    path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- the load (its own process)

class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def get(self, path: str, key: str) -> int:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        if b"connection: close" in head.lower():
            raise ConnectionResetError("server closed")
        return status


async def _open_loop(port: int, rps: float, seconds: float, key: str, paths: list[str],
                     conns: int) -> list[tuple[float, int]]:
    """Requests due at t0 + i/rps, each on a free keep-alive connection; (latency from due time, status)."""
    pool: asyncio.Queue[_Conn | None] = asyncio.Queue()
    for _ in range(conns):
        pool.put_nowait(None)  # connected lazily
    out: list[tuple[float, int]] = []
    clock = time.perf_counter  # not loop.time(): uvloop's is in whole milliseconds, cached per loop pass
    t0 = clock() + 0.2
    total = int(rps * seconds)

    async def one(i: int, due: float) -> None:
        conn = await pool.get()
        try:
            if conn is None:
                conn = _Conn(*await asyncio.open_connection("127.0.0.1", port))
            status = await conn.get(paths[i % len(paths)], key)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status, conn = 599, None  # a transport failure counts as a server error
        out.append((clock() - due, status))
        pool.put_nowait(conn)

    tasks = []
    for i in range(total):
        due = t0 + i / rps
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i, due)))
    await asyncio.gather(*tasks)
    return out


async def _sample_metrics(port: int, stop: asyncio.Event, seen: dict[str, float]) -> None:
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            text = (await asyncio.wait_for(reader.read(), 5)).decode(errors="replace")
            writer.close()
            for line in text.splitlines():
                for name in ("vigil_event_loop_lag_seconds", "vigil_collect_start_lag_p99_seconds"):
                    if line.startswith(name + " "):
                        seen[name] = max(seen.get(name, 0.0), float(line.split()[1]))
        except (TimeoutError, OSError, ValueError):
            pass
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except TimeoutError:
            pass


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


class _Cpu:
    """CPU seconds used by the server process and by this load process over one phase."""

    def __init__(self, server_pid: int | None) -> None:
        import psutil

        self.server = psutil.Process(server_pid) if server_pid else None
        self.me = psutil.Process()
        self.t0, self.s0, self.m0 = time.perf_counter(), self._server(), self._me()

    def _server(self) -> float:
        if self.server is None:
            return 0.0
        t = self.server.cpu_times()
        return float(t.user + t.system)

    def _me(self) -> float:
        t = self.me.cpu_times()
        return float(t.user + t.system)

    def figures(self, prefix: str, requests: int) -> dict[str, float | None]:
        wall = time.perf_counter() - self.t0
        server, me = self._server() - self.s0, self._me() - self.m0
        return {f"{prefix}_server_cpu_ms_per_req": round(1000 * server / requests, 3) if self.server else None,
                f"{prefix}_server_cpu_share": round(server / wall, 3) if self.server else None,
                f"{prefix}_loader_cpu_share": round(me / wall, 3)}


async def _load(args: dict[str, Any]) -> dict[str, Any]:
    port, ids = args["port"], args["incidents"]
    rng = random.Random(11)
    lists = [f"/api/v1/incidents?status=all&limit=50&offset={rng.randrange(0, 2000, 50)}" for _ in range(64)]
    details = [f"/api/v1/incidents/{rng.randint(1, ids)}" for _ in range(256)]
    half = args["rps"] / 2

    def steady_load(seconds: float) -> Any:  # lists and details, half the rate each
        return asyncio.gather(_open_loop(port, half, seconds, KEY_STEADY, lists, STEADY_CONNS),
                              _open_loop(port, half, seconds, KEY_STEADY, details, STEADY_CONNS))

    if args.get("warmup_s"):  # not counted: the first reads fill SQLite's page cache and the engine settles
        await steady_load(args["warmup_s"])
    cpu = _Cpu(args.get("server_pid"))
    steady = await steady_load(args["steady_s"])
    steady_cpu = cpu.figures("steady", sum(len(part) for part in steady))
    seen: dict[str, float] = {}
    stop = asyncio.Event()
    sampler = asyncio.ensure_future(_sample_metrics(port, stop, seen))
    cpu = _Cpu(args.get("server_pid"))
    burst = await _open_loop(port, args["burst_rps"], args["burst_s"], KEY_BURST, lists[:8] + details[:24],
                             BURST_CONNS)
    burst_cpu = cpu.figures("burst", len(burst))
    stop.set()
    await sampler
    served = [lat for lat, st in burst if st < 400]
    return {**steady_cpu, **burst_cpu,
        "list_p95_ms": _ms(_p95([lat for lat, st in steady[0] if st == 200])),
        "detail_p95_ms": _ms(_p95([lat for lat, st in steady[1] if st == 200])),
        "rps": args["rps"], "steady_statuses": _counts([st for part in steady for _, st in part]),
        "burst_requests": len(burst), "burst_rps": args["burst_rps"], "burst_s": args["burst_s"],
        "burst_served": len(served), "burst_429": sum(st == 429 for _, st in burst),
        "burst_5xx": sum(st >= 500 for _, st in burst), "burst_p95_ms": _ms(_p95(served)),
        "loop_lag_max_s": seen.get("vigil_event_loop_lag_seconds"),
        "probe_start_lag_p99_max_s": seen.get("vigil_collect_start_lag_p99_seconds"),
    }


def _counts(statuses: list[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for st in statuses:
        out[str(st)] = out.get(str(st), 0) + 1
    return dict(sorted(out.items()))


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 2)


def load_main() -> None:
    """The load process: arguments as JSON on stdin, the result as JSON on stdout. On uvloop (uvicorn's
    own loop, installed with it) when present: the client's cost per request is part of what it times."""
    args = json.loads(sys.stdin.read())
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(_load(args))
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            result = runner.run(_load(args))
    print(json.dumps(result), flush=True)


# --------------------------------------------------------------------------- the browser

def overview_interactive(base: str, key: str) -> tuple[float | None, str]:
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None, "playwright is not installed"
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base}/", timeout=5) as r:  # noqa: S310  # loopback
            if "html" not in r.headers.get("content-type", ""):
                return None, "no dashboard is served at / yet"
    except OSError as exc:
        return None, f"no dashboard is served at / yet ({type(exc).__name__})"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        try:
            page = browser.new_page()
            login = page.request.post(f"{base}/api/v1/session", data={"key": key})  # the cookie for the page
            if login.status != 200:
                return None, f"login answered {login.status}"
            start = time.perf_counter()
            page.goto(f"{base}/")
            # a selector, not wait_for_function: the page's CSP (no 'unsafe-eval') refuses a function from a string
            page.wait_for_selector("body[data-ready='1']", state="attached", timeout=30_000)
            return round(time.perf_counter() - start, 3), "time from opening / to the rendered overview"
        except PlaywrightError as exc:
            return None, f"the overview never became ready: {str(exc).splitlines()[0][:200]}"
        finally:
            browser.close()


# --------------------------------------------------------------------------- the command

def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(base: str, proc: subprocess.Popen[str], log: Path, seconds: float) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"vigil up exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:  # noqa: S310  # loopback
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("vigil up did not become ready")


@app.command()
def main(as_json: bool = typer.Option(False, "--json", help="print the figures as JSON"),
         incidents: int = typer.Option(10_000, help="incidents in the store"),
         services: int = typer.Option(1_000, help="services in the config (one series each)"),
         rollup_days: int = typer.Option(365, help="days of hourly roll-ups per series"),
         rps: float = typer.Option(200.0, help="steady load, requests a second (half list, half detail)"),
         steady_s: float = typer.Option(20.0, "--steady-s", help="seconds of steady load"),
         warmup_s: float = typer.Option(10.0, "--warmup-s", help="seconds of load at the steady rate before it, "
                                                                 "not counted"),
         burst_rps: float = typer.Option(1000.0, "--burst-rps", help="the burst, requests a second"),
         burst_s: float = typer.Option(60.0, "--burst-s", help="seconds of burst (shorten for a quick run)"),
         keep: bool = typer.Option(False, help="keep the generated store and config")) -> None:
    """API latency under steady load and a burst, against a real vigil up process."""
    folder = Path(tempfile.mkdtemp(prefix="vigil-bench-api-"))
    db, cfg, port = folder / "vigil.db", folder / "vigil.yaml", _free_port()
    t = time.perf_counter()
    _say(f"generating the store: {incidents:,} incidents, {services:,} services, {rollup_days} days of roll-ups")
    build_store(db, incidents, services, rollup_days, time.time())
    generate_s = time.perf_counter() - t
    write_config(cfg, db, port, services)
    vigil = Path(sys.executable).parent / "vigil"
    log = (folder / "vigil-up.log").open("w")  # a file, not a pipe nobody reads (it would fill and block vigil)
    proc = subprocess.Popen([str(vigil), "up", "-c", str(cfg)], stdout=log, stderr=log, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc, folder / "vigil-up.log", 180)
        _say(f"vigil up is ready on {base}; {warmup_s:g} s of warm-up, then steady load {rps:g}/s for "
             f"{steady_s:g} s, then {burst_rps:g}/s for {burst_s:g} s")
        args = {"port": port, "server_pid": proc.pid, "incidents": incidents, "rps": rps, "steady_s": steady_s,
                "warmup_s": warmup_s, "burst_rps": burst_rps, "burst_s": burst_s}
        loader = subprocess.run([sys.executable, "-c", "from vigil.bench.api import load_main; load_main()"],
                                input=json.dumps(args), capture_output=True, text=True,
                                timeout=warmup_s + steady_s + burst_s + 300, check=False)
        if loader.returncode != 0:
            raise RuntimeError(f"the load process failed: {loader.stderr[-2000:]}")
        result = json.loads(loader.stdout.strip().splitlines()[-1])
        _say("opening the overview in headless chromium")
        result["overview_interactive_s"], result["overview_note"] = overview_interactive(base, KEY_STEADY)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if not keep:
            for f in folder.iterdir():
                f.unlink()
            folder.rmdir()
    result.update({"warmup_s": warmup_s, "incidents": incidents, "services": services, "rollup_days": rollup_days,
                   "generate_s": round(generate_s, 1), "list_target_ms": 50, "burst_target_p95_ms": 500,
                   "load_avg_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()})
    if as_json:
        print(json.dumps(result, indent=2))
        return
    for k, v in result.items():
        print(f"{k:28} {v}")
