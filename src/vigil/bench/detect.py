"""`vigil bench detect`: speed and memory of a detector on the production code path.

- points_per_s: batch replay (`score_many`) over many series, one core;
- update_p99_us: live `update()` per sample, after warm-up, p50/p99;
- state_bytes_per_series: size of the saved state blob after a long series.
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np
import orjson
import typer
from rich.console import Console
from rich.table import Table

from vigil.detect import DEFAULT_DETECTOR, DETECTORS

app = typer.Typer(add_completion=False)


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A service-like series: daily cycle, noise, a few spikes and a level shift."""
    rng = np.random.default_rng(seed)
    ts = 1_700_000_000.0 + 60.0 * np.arange(n)
    xs = 100 + 30 * np.sin(2 * np.pi * (ts % 86400) / 86400) + rng.gamma(2.0, 3.0, n)
    xs[rng.integers(0, n, max(1, n // 500))] *= 4
    xs[n // 2:] += 25
    return ts, xs


def measure(kind: str, series: int, points: int, updates: int) -> dict:
    data = [synthetic(points, s) for s in range(series)]
    DETECTORS.create(kind).score_many(*synthetic(64, 99))  # compile/load outside the timing
    t0 = time.perf_counter()
    for ts, xs in data:
        DETECTORS.create(kind).score_many(ts, xs)
    batch_s = time.perf_counter() - t0
    det = DETECTORS.create(kind)
    ts, xs = synthetic(points + updates, 7)
    det.score_many(ts[:points], xs[:points])
    lat = np.empty(updates)
    clock = time.perf_counter_ns
    for i in range(updates):
        t, x = float(ts[points + i]), float(xs[points + i])
        a = clock()
        det.update(t, x)
        lat[i] = clock() - a
    return {"detector": kind, "series": series, "points_per_series": points,
            "points_per_s": round(series * points / batch_s),
            "update_p50_us": round(float(np.percentile(lat, 50)) / 1000, 2),
            "update_p99_us": round(float(np.percentile(lat, 99)) / 1000, 2),
            "state_bytes_per_series": len(det.state())}


@app.command()
def detect(detector: str = typer.Option(DEFAULT_DETECTOR, "--detector"),
           series: int = typer.Option(20, "--series", help="series replayed in batch"),
           points: int = typer.Option(20_000, "--points", help="points per series"),
           updates: int = typer.Option(20_000, "--updates", help="live updates timed"),
           kinds: Optional[bool] = typer.Option(False, "--all", help="every registered detector"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Detector throughput (batch replay), live update latency and state size."""
    chosen = DETECTORS.kinds() if kinds else [detector]
    results = [measure(k, series, points, updates) for k in chosen]
    if as_json:
        print(orjson.dumps(results[0] if len(results) == 1 else {**results[0], "all": results}).decode())
        return
    table = Table(title="vigil bench detect (targets: >= 100,000 points/s, p99 < 50 us, < 64 KB)")
    for col in ("detector", "points/s (batch)", "update p50 us", "update p99 us", "state bytes"):
        table.add_column(col)
    for r in results:
        table.add_row(r["detector"], f"{r['points_per_s']:,}", str(r["update_p50_us"]),
                      str(r["update_p99_us"]), f"{r['state_bytes_per_series']:,}")
    Console().print(table)
