"""Smoke test of `vigil bench autoscale` on a small synthetic trace (not the shared data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from vigil.bench import autoscale


def _trace(path: Path, days: float = 2.2) -> Path:
    rng = np.random.default_rng(3)
    n = int(days * 288)
    t = np.arange(n) * 300
    y = 100 + 60 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 8, n)
    y[400:404] += 120  # a burst
    lines = ["timestamp,requests"] + [f"{int(a)},{b:.3f}" for a, b in zip(t, y)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bench_autoscale_json(tmp_path: Path) -> None:
    trace = _trace(tmp_path / "trace.csv")
    res = CliRunner().invoke(autoscale.app, ["--trace", str(trace), "--column", "requests", "--json",
                                             "--services", "20"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    pols = out["policies"]
    assert set(pols) == {"vigil", "hpa", "static_peak", "oracle"}
    for p in pols.values():
        assert {"replica_hours", "violation_minutes", "unserved_fraction", "actions"} <= set(p)
    assert pols["oracle"]["violation_minutes"] == 0 and pols["static_peak"]["violation_minutes"] == 0
    assert pols["static_peak"]["replica_hours"] >= pols["oracle"]["replica_hours"]
    assert pols["oracle"]["replica_hours_vs_oracle"] == 1.0
    assert out["decision_speed"]["services"] == 20
    # Capacity per replica is set so that mean demand needs 10 replicas.
    assert abs(out["capacity_per_replica"] * 10 - 100) < 5


def test_trace_time_handling(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,2\n2014-01-01 00:05:00,3\n")
    ts, y = autoscale.load_trace(p, "value")
    assert list(ts) == [0, 300, 600] and list(y) == [1, 2, 3]  # repeated stamp: row order kept
    q = tmp_path / "s.csv"
    q.write_text("cpu\n1\n2\n")
    ts, _ = autoscale.load_trace(q, "cpu", step=30)
    assert list(ts) == [0, 30]
    assert list(autoscale.ready_from_spec(np.array([2, 5, 5, 5, 1, 3]), 2)) == [2, 2, 2, 5, 1, 1]
