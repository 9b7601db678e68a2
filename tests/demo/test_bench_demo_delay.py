"""`vigil bench demo-delay` at a tiny size: a real fleet, vigil on it, one crash, detected."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_bench_demo_delay_crash_is_detected() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vigil.cli", "bench", "demo-delay", "--scrape-interval", "1", "--warmup", "5",
         "--faults", "crash", "--detect-timeout", "15", "--recovery", "1", "--json"],
        check=False, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["scrape_interval_s"] == 1.0
    [row] = out["faults"]
    for key in ("fault", "delay_s", "delay_scrape_intervals", "detected", "signal"):
        assert key in row
    assert row["fault"] == "crash" and row["detected"] is True
    assert row["delay_s"] is not None and 0 <= row["delay_s"] <= 15
    assert row["delay_scrape_intervals"] == pytest.approx(row["delay_s"] / 1.0, abs=0.01)
    assert row["signal"]["kind"] and row["signal"]["reason"]
