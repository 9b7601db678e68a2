"""`vigil bench ingest`: store ingest rate (SQLite, PostgreSQL, and a naive baseline in the same run),
push-API ingest rate, range query latency over a week of data, and memory.

Everything goes through the production code: `open_store(...).write_batch` + `maintain` (called
every simulated minute, as the engine does, so compaction and roll-ups are part of the rate), and
`POST /api/v1/samples` on `vigil.app.build_app`. Data timestamps advance 10 s per scrape of all
series, so maintenance sees hours close exactly as it would live, only faster."""

from __future__ import annotations

import asyncio
import gc
import resource
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import psutil
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from vigil.model import SeriesKey
from vigil.store import Store, open_store

app = typer.Typer(add_completion=False)

INTERVAL_S = 10.0
MAINTAIN_EVERY_S = 60.0
START = 1_699_920_000.0  # a UTC midnight; the data is synthetic, only its spacing matters
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _keys(n: int) -> list[SeriesKey]:
    return [SeriesKey.of("bench_requests", {"instance": f"i-{i:05d}", "job": "bench"}) for i in range(n)]


class Bars:
    """Rich progress bars on the given console (stderr when stdout carries JSON)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(TextColumn("{task.description:<34}"), BarColumn(),
                                 TextColumn("{task.percentage:>5.1f}%"), TimeElapsedColumn(),
                                 TimeRemainingColumn(), console=console, transient=False)

    @contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        tid = self.progress.add_task(description, total=total)
        yield lambda n: self.progress.advance(tid, n)
        self.progress.update(tid, completed=total)


# ------------------------------------------------------------------------------------ store ingest

def scrape_stream(series: int, samples: int, per_batch: int, seed: int = 1
                  ) -> Iterator[tuple[float, np.ndarray, np.ndarray]]:
    """Batches as scrapes deliver them: `per_batch` timestamps x every series, time-ordered."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(10, 1000, series)
    steps = max(1, samples // series)
    for k0 in range(0, steps, per_batch):
        n = min(per_batch, steps - k0)
        ts = np.repeat(START + INTERVAL_S * np.arange(k0, k0 + n), series)
        level = np.abs(level + rng.normal(0, 1, series))
        vals = np.tile(level, n) + rng.normal(0, 0.5, series * n)
        yield float(ts[-1]), ts, vals


def ingest_store(store: Store, series: int, samples: int, per_batch: int, advance: Callable[[int], None],
                 ) -> dict[str, float]:
    keys = _keys(series)
    batch_keys = keys * per_batch
    written, next_maint = 0, START + MAINTAIN_EVERY_S
    rss_early: float | None = None
    started, cpu_started = time.perf_counter(), time.process_time()
    for last_ts, ts, vals in scrape_stream(series, samples, per_batch):
        written += store.write_batch(batch_keys if ts.size == len(batch_keys) else keys * (ts.size // series),
                                     ts, vals)
        if last_ts >= next_maint:
            store.maintain(last_ts)
            next_maint = last_ts + MAINTAIN_EVERY_S
        if rss_early is None and written >= samples // 10:
            rss_early = _rss_mb()
        advance(ts.size)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"samples": written, "seconds": elapsed, "samples_per_s": written / elapsed,
            "samples_per_cpu_s": written / cpu,
            "rss_growth_mb": _rss_mb() - (rss_early or _rss_mb())}


def ingest_naive(path: Path, series: int, samples: int, per_batch: int, advance: Callable[[int], None],
                 ) -> tuple[float, float]:
    """Baseline: one row per sample in a table indexed by (series, ts), same SQLite settings."""
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     "CREATE TABLE naive(series_id INTEGER NOT NULL, ts REAL NOT NULL, value REAL NOT NULL);"
                     "CREATE INDEX ix_naive ON naive(series_id, ts);")
    ids = np.tile(np.arange(series), per_batch)
    written = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for _last, ts, vals in scrape_stream(series, samples, per_batch):
        db.execute("BEGIN")
        db.executemany("INSERT INTO naive VALUES (?, ?, ?)",
                       zip(ids[:ts.size].tolist(), ts.tolist(), vals.tolist()))
        db.execute("COMMIT")
        written += ts.size
        advance(ts.size)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    db.close()
    return written / elapsed, written / cpu


@contextmanager
def scratch_postgres(url: str) -> Iterator[str]:
    """A database of our own on the server of `url`, dropped afterwards."""
    import psycopg
    import sqlalchemy as sa

    u = sa.engine.make_url(url)
    admin_dsn = u.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"vigil_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield u.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------------------- push API

def api_ingest(store: Store, series: int, samples: int, advance: Callable[[int], None],
               ) -> tuple[float, float] | tuple[None, None]:
    try:
        from vigil.app import build_app
        from vigil.config.schema import VigilConfig
    except ImportError as exc:
        print(f"api_samples_per_s: null (vigil.app is not available: {exc})", file=sys.stderr)
        return None, None
    names = [str(k) for k in _keys(series)]
    bodies = []
    for _last, ts, vals in scrape_stream(series, samples, 1, seed=2):  # one scrape per request
        bodies.append(orjson.dumps({"samples": [{"series": s, "ts": t, "value": v}
                                                for s, t, v in zip(names, ts.tolist(), vals.tolist())]}))
    config = VigilConfig.model_validate(
        {"server": {"api_keys": [{"name": "bench", "key": "bench-key-0123456789"}]}})
    return asyncio.run(_post_all(build_app, config, store, bodies, series, advance))


async def _post_all(build_app: Any, config: Any, store: Store, bodies: list[bytes], series: int,
                    advance: Callable[[int], None]) -> tuple[float, float]:
    import httpx

    web, engine = build_app(config, store=store)
    await engine.start()  # a push goes through the loop: persist, then detection and rules
    headers = {"Authorization": "Bearer bench-key-0123456789", "Content-Type": "application/json"}
    written = 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://vigil") as client:
        started, cpu_started = time.perf_counter(), time.process_time()
        for body in bodies:
            r = await client.post("/api/v1/samples", content=body, headers=headers)
            if r.status_code != 200:
                raise RuntimeError(f"POST /api/v1/samples answered {r.status_code}: {r.text[:300]}")
            written += series
            advance(series)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    await engine.stop()
    return written / elapsed, written / cpu  # CPU: client and server share this process


# ---------------------------------------------------------------------------------- range queries

def build_week(store: Store, series: int, days: float, advance: Callable[[int], None]) -> float:
    """`series` series x `days` of 10-second data, backfilled one series per write; returns `now`."""
    n = int(days * 86400 / INTERVAL_S)
    ts = START + INTERVAL_S * np.arange(n)
    rng = np.random.default_rng(3)
    for key in _keys(series):
        store.write_batch([key] * n, ts, np.cumsum(rng.normal(0, 1, n)) + 100)
        advance(1)
    now = float(ts[-1] + INTERVAL_S)  # the last hour is still open, as it would be live
    store.maintain(now)
    return now


def time_queries(store: Store, series: int, now: float, days: float, queries: int) -> dict[str, float]:
    keys = _keys(series)
    rng = np.random.default_rng(4)
    week, day = [], []
    expected = int(days * 86400 / INTERVAL_S)
    for _ in range(queries):
        key = keys[int(rng.integers(series))]
        t = time.perf_counter()
        r = store.query_range(key, now - days * 86400, now)
        week.append(time.perf_counter() - t)
        if r.ts.size != expected or r.resolution != "raw":
            raise RuntimeError(f"{days}-day query returned {r.ts.size} {r.resolution} points, "
                               f"expected {expected}")
        t = time.perf_counter()
        r = store.query_range(key, now - 86400, now, step=60.0)
        day.append(time.perf_counter() - t)
        minutes = min(days, 1.0) * 1440
        if r.resolution != "1m" or not minutes - 10 <= r.ts.size <= minutes + 1:
            raise RuntimeError(f"1-day query returned {r.ts.size} points at {r.resolution}")
    return {"range_query_7d_p95_ms": float(np.percentile(week, 95) * 1000),
            "range_query_7d_p50_ms": float(np.percentile(week, 50) * 1000),
            "range_query_1d_rollup_p95_ms": float(np.percentile(day, 95) * 1000),
            "range_query_1d_rollup_p50_ms": float(np.percentile(day, 50) * 1000)}


# ------------------------------------------------------------------------------------------ command

@app.command()
def ingest(
    samples: int = typer.Option(10_000_000, help="samples written through the store's batch API (SQLite)"),
    series: int = typer.Option(1000, help="number of series"),
    days: float = typer.Option(7.0, help="days of 10-second data per series for the range queries"),
    batch_timestamps: int = typer.Option(1, help="timestamps per write (each covers every series)"),
    postgres_url: str = typer.Option(DEFAULT_PG, help="server for the PostgreSQL figures (a scratch "
                                                      "database is created and dropped)"),
    no_postgres: bool = typer.Option(False, "--no-postgres", help="skip PostgreSQL"),
    postgres_samples: int | None = typer.Option(None, help="samples for PostgreSQL "
                                                           "(default: min(samples, 2M))"),
    naive_samples: int | None = typer.Option(None, help="samples for the naive baseline "
                                                        "(default: min(samples, 1M))"),
    api_samples: int | None = typer.Option(None, help="samples pushed through the API "
                                                      "(default: min(samples, 300k))"),
    queries: int = typer.Option(50, help="range queries of each kind"),
    workdir: Path | None = typer.Option(None, help="where the SQLite files go (default: a temporary folder)"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON object on stdout"),
) -> None:
    """Store and push-API ingest rate, range-query latency and memory (see docs/store.md)."""
    out_console = Console(stderr=json_out)
    bars = Bars(out_console)
    result: dict[str, Any] = {"samples": samples, "series": series, "days": days,
                              "batch_timestamps": batch_timestamps}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp, bars.progress:
        folder = Path(tmp)
        gc.collect()
        result["rss_start_mb"] = _rss_mb()
        store = open_store(f"sqlite:///{folder / 'ingest.db'}")
        with bars.task("store ingest (SQLite)", samples) as adv:
            r = ingest_store(store, series, samples, batch_timestamps, adv)
        store.close()
        result.update(store_samples_per_s=r["samples_per_s"], store_samples_per_cpu_s=r["samples_per_cpu_s"],
                      store_seconds=r["seconds"], store_rss_growth_mb=r["rss_growth_mb"])

        n_naive = naive_samples if naive_samples is not None else min(samples, 1_000_000)
        with bars.task("naive baseline (SQLite)", n_naive) as adv:
            naive, naive_cpu = ingest_naive(folder / "naive.db", series, n_naive, batch_timestamps, adv)
        result.update(naive_samples_per_s=naive, naive_samples_per_cpu_s=naive_cpu,
                      store_vs_naive=result["store_samples_per_s"] / naive,
                      store_vs_naive_cpu=result["store_samples_per_cpu_s"] / naive_cpu)

        result["postgres_store_samples_per_s"] = None
        if not no_postgres:
            n_pg = postgres_samples if postgres_samples is not None else min(samples, 2_000_000)
            try:
                with scratch_postgres(postgres_url) as url:
                    pg = open_store(url)
                    with bars.task("store ingest (PostgreSQL)", n_pg) as adv:
                        r = ingest_store(pg, series, n_pg, batch_timestamps, adv)
                    pg.close()
                result.update(postgres_store_samples_per_s=r["samples_per_s"], postgres_samples=r["samples"],
                              postgres_client_samples_per_cpu_s=r["samples_per_cpu_s"])
            except Exception as exc:  # report, do not hide, and keep the other figures
                print(f"postgres_store_samples_per_s: null ({type(exc).__name__}: {exc})", file=sys.stderr)

        n_api = api_samples if api_samples is not None else min(samples, 300_000)
        store = open_store(f"sqlite:///{folder / 'api.db'}")
        with bars.task("push API ingest", n_api) as adv:
            api_rate, api_cpu_rate = api_ingest(store, series, n_api, adv)
        result.update(api_samples_per_s=api_rate, api_samples_per_cpu_s=api_cpu_rate)
        store.close()

        store = open_store(f"sqlite:///{folder / 'week.db'}")
        with bars.task(f"build {days:g} days x {series} series", series) as adv:
            t = time.perf_counter()
            now = build_week(store, series, days, adv)
            result["week_build_samples_per_s"] = series * int(days * 8640) / (time.perf_counter() - t)
        with bars.task("range queries", queries) as adv:
            result.update(time_queries(store, series, now, days, queries))
            adv(queries)
        store.close()
        result["sqlite_week_db_mb"] = (folder / "week.db").stat().st_size / 2**20
    result["peak_rss_mb"] = _peak_rss_mb()
    if json_out:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY).decode() + "\n")
    else:
        _table(out_console, result)


def _table(console: Console, result: dict[str, Any]) -> None:
    targets = {"store_samples_per_s": ">= 200,000", "api_samples_per_s": ">= 30,000",
               "range_query_7d_p95_ms": "< 50", "range_query_1d_rollup_p95_ms": "< 10",
               "naive_samples_per_s": "baseline"}
    table = Table(title="vigil bench ingest")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target")
    for k, v in result.items():
        text = "null" if v is None else (f"{v:,.1f}" if isinstance(v, float) else f"{v:,}")
        table.add_row(k, text, targets.get(k, ""))
    console.print(table)
