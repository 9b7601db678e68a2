"""Small synthetic recordings in the RCA data format (metrics.csv, faults.json, graph.csv), made by
the tests themselves: the project does not depend on any shared data set.

`shop` has a call graph `Front Door` -> `cart:api` -> `db@primary/1` and a fault in the database
whose callers degrade after it; `ledger` has no graph and an idle service whose client latency was
flat and jumps (the classic decoy of a plain z-score), beside the real cause."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

T0 = 1_700_000_000
STEP = 60
STEPS = 240  # four hours of 1-minute samples


def write(folder: Path, series: dict[tuple[str, str], np.ndarray], faults: list[dict[str, object]],
          edges: list[tuple[str, str]] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for (service, metric), values in series.items():
        for i, v in enumerate(values):
            if np.isfinite(v):
                rows.append((T0 + i * STEP, service, metric, float(v)))
    rows.sort()
    with (folder / "metrics.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time", "service", "metric", "value"])
        w.writerows([(t, s, m, f"{v:.6g}") for t, s, m, v in rows])
    (folder / "faults.json").write_text(json.dumps(faults))
    if edges is not None:
        with (folder / "graph.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["caller", "callee"])
            w.writerows(edges)
    (folder / "README.md").write_text("synthetic recording made by tests/incidents/recordings.py\n")
    return folder


def noisy(rng: np.random.Generator, level: float, rel: float = 0.05) -> np.ndarray:
    return level * (1 + rel * rng.standard_normal(STEPS))


def step_at(values: np.ndarray, index: int, factor: float, length: int = 4) -> np.ndarray:
    out = values.copy()
    out[index:index + length] *= factor
    return out


def shop(root: Path, seed: int = 1) -> Path:
    """Faults at minute 150 (db) and 200 (cart:api); every caller degrades a minute after its callee."""
    rng = np.random.default_rng(seed)
    names = ["Front Door", "cart:api", "db@primary/1"]
    series = {}
    for n in names:
        series[(n, "latency(s)")] = noisy(rng, 0.1)
        series[(n, "cpu %")] = noisy(rng, 20)
        series[(n, "requests")] = noisy(rng, 100)
    # db fault at 150: the db is slow and busy; cart waits on it a minute later, the front door after that
    series[("db@primary/1", "latency(s)")] = step_at(series[("db@primary/1", "latency(s)")], 150, 8)
    series[("db@primary/1", "cpu %")] = step_at(series[("db@primary/1", "cpu %")], 150, 3)
    series[("cart:api", "latency(s)")] = step_at(series[("cart:api", "latency(s)")], 151, 4)
    series[("Front Door", "latency(s)")] = step_at(series[("Front Door", "latency(s)")], 152, 2)
    # cart fault at 200: cart burns CPU and is slow; the front door waits on it
    series[("cart:api", "cpu %")] = step_at(series[("cart:api", "cpu %")], 200, 3)
    series[("cart:api", "latency(s)")] = step_at(series[("cart:api", "latency(s)")], 200, 6)
    series[("Front Door", "latency(s)")] = step_at(series[("Front Door", "latency(s)")], 201, 3)
    faults = [{"start": T0 + 150 * STEP - 20, "end": T0 + 154 * STEP, "root_cause": "db@primary/1",
               "fault": "slow_disk", "source": "test"},
              {"start": T0 + 200 * STEP - 20, "end": T0 + 204 * STEP, "root_cause": "cart:api",
               "fault": "cpu_hog", "source": "test"}]
    edges = [("Front Door", "cart:api"), ("cart:api", "db@primary/1")]
    return write(root / "shop" / "day-1", series, faults, edges)


def ledger(root: Path, seed: int = 2) -> Path:
    """No graph. At minute 180 `payments` degrades on three series (the cause) while `idle`'s client
    latency, flat at its floor for hours, jumps a thousandfold on one series (a decoy). A second fault
    at minute 220 is labelled on `reports`, whose series do not move at all: no ranking can find it."""
    rng = np.random.default_rng(seed)
    series = {}
    for n in ("payments", "reports", "idle"):
        series[(n, "cpu")] = noisy(rng, 30)
        series[(n, "memory")] = noisy(rng, 500, 0.01)
    series[("payments", "latency")] = noisy(rng, 0.2)
    series[("reports", "latency")] = noisy(rng, 0.5)
    flat = np.full(STEPS, 0.0046)
    flat[[40, 97]] = 0.0049  # two tiny blips in four hours
    series[("idle", "client latency")] = step_at(flat, 180, 6000.0, 3)
    for metric, factor in (("cpu", 1.8), ("memory", 1.15), ("latency", 2.5)):
        series[("payments", metric)] = step_at(series[("payments", metric)], 180, factor)
    for service, metric in (("idle", "cpu"), ("idle", "memory"), ("payments", "latency"),
                            ("payments", "cpu")):
        series[(service, metric)] = step_at(series[(service, metric)], 220, 2.0)
    faults = [{"start": T0 + 180 * STEP - 20, "end": T0 + 184 * STEP, "root_cause": "payments",
               "fault": "cpu_hog", "source": "test"},
              {"start": T0 + 220 * STEP - 20, "end": None, "root_cause": "reports",
               "fault": "silent", "source": "test"}]
    return write(root / "ledger" / "day-1", series, faults)
