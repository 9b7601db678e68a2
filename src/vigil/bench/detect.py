"""`vigil bench detect`: speed and memory of a detector on the production code path.

- points_per_s: batch replay (`score_many`) over many series, one core;
- update_p99_us: live `update()` per sample, after warm-up, p50/p99;
- state_bytes_per_series: size of the saved state blob after a long series.

The data spans weeks (5-minute points by default: 20,000 cover 69 days) so the weekly profile, which
needs 2 past weeks of an hour, is active for most of the replay and all of the timed updates; the JSON
says how much of each it was active for.
"""

from __future__ import annotations

import io
import time

import numpy as np
import orjson
import typer
from rich.console import Console
from rich.table import Table

from vigil.detect import DEFAULT_DETECTOR, DETECTORS
from vigil.detect import kernel as K
from vigil.detect.base import KernelDetector

app = typer.Typer(add_completion=False)


DAY = 86400.0


def synthetic(n: int, seed: int, interval: float = 300.0) -> tuple[np.ndarray, np.ndarray]:
    """A service-like series: daily cycle, quieter weekends, noise, a few spikes and a level shift."""
    rng = np.random.default_rng(seed)
    ts = 1_700_000_000.0 + interval * np.arange(n)
    weekend = (ts // DAY + 4) % 7 >= 5  # day 0 of the epoch was a Thursday
    xs = 100 + 30 * np.sin(2 * np.pi * (ts % DAY) / DAY) - 30 * weekend + rng.gamma(2.0, 3.0, n)
    xs[rng.integers(0, n, max(1, n // 1000))] *= 4
    xs[n // 4:] += 25
    return ts, xs


def weekly_scored(det: object) -> int:
    """Points a kernel detector scored with the weekly profile active (>= `week_min` past weeks knew the
    hour) and judged normal: the kernel's own count, read from the saved state (0 for other detectors)."""
    if not isinstance(det, KernelDetector):
        return 0
    with np.load(io.BytesIO(det.state())) as z:
        return int(z["fs"][K.S_WRES_N])


def measure(kind: str, series: int, points: int, updates: int, interval: float) -> dict:
    data = [synthetic(points, s, interval) for s in range(series)]
    DETECTORS.create(kind).score_many(*synthetic(64, 99, interval))  # compile/load outside the timing
    dets = [DETECTORS.create(kind) for _ in data]
    t0 = time.perf_counter()
    for det, (ts, xs) in zip(dets, data):
        det.score_many(ts, xs)
    batch_s = time.perf_counter() - t0
    weekly_points = sum(weekly_scored(d) for d in dets)
    det = DETECTORS.create(kind)
    ts, xs = synthetic(points + updates, 7, interval)
    det.score_many(ts[:points], xs[:points])
    before = weekly_scored(det)
    lat = np.empty(updates)
    verdicts = 0
    clock = time.perf_counter_ns
    for i in range(updates):
        t, x = float(ts[points + i]), float(xs[points + i])
        a = clock()
        score = det.update(t, x)
        lat[i] = clock() - a
        verdicts += "this hour on" in score.reason  # the weekly profile's verdict names the hour of the week
    return {"detector": kind, "series": series, "points_per_series": points, "interval_s": interval,
            "days_covered": round(points * interval / DAY, 1),
            "update_days_covered": round(updates * interval / DAY, 1),
            "points_per_s": round(series * points / batch_s),
            "update_p50_us": round(float(np.percentile(lat, 50)) / 1000, 2),
            "update_p99_us": round(float(np.percentile(lat, 99)) / 1000, 2),
            "state_bytes_per_series": len(det.state()),
            "weekly_active_points": weekly_points,
            "weekly_active_updates": weekly_scored(det) - before,
            "weekly_verdict_updates": verdicts}


@app.command()
def detect(detector: str = typer.Option(DEFAULT_DETECTOR, "--detector"),
           series: int = typer.Option(20, "--series", help="series replayed in batch"),
           points: int = typer.Option(20_000, "--points", help="points per series"),
           updates: int = typer.Option(20_000, "--updates", help="live updates timed (after the points)"),
           interval: float = typer.Option(300.0, "--interval", help="seconds between points (300: "
                                          "20,000 points span 69 days, enough for the weekly profile)"),
           kinds: bool | None = typer.Option(False, "--all", help="every registered detector"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Detector throughput (batch replay), live update latency and state size."""
    chosen = DETECTORS.kinds() if kinds else [detector]
    results = [measure(k, series, points, updates, interval) for k in chosen]
    if as_json:
        print(orjson.dumps(results[0] if len(results) == 1 else {**results[0], "all": results}).decode())
        return
    table = Table(title="vigil bench detect (targets: >= 100,000 points/s, p99 < 50 us, < 64 KB)")
    for col in ("detector", "points/s (batch)", "update p50 us", "update p99 us", "state bytes",
                "weekly active (replay / updates)"):
        table.add_column(col)
    for r in results:
        replay = r["weekly_active_points"] / (r["series"] * r["points_per_series"])
        live = r["weekly_active_updates"] / max(updates, 1)
        table.add_row(r["detector"], f"{r['points_per_s']:,}", str(r["update_p50_us"]),
                      str(r["update_p99_us"]), f"{r['state_bytes_per_series']:,}", f"{replay:.0%} / {live:.0%}")
    Console().print(table)
    print(f"{results[0]['days_covered']} days of data per series ({interval:g} s apart), then "
          f"{results[0]['update_days_covered']} days of timed updates")
