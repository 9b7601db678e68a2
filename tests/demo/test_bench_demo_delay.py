"""`vigil bench demo-delay` at a tiny size: a real fleet, vigil on it, a crash twice, detected; and how
the runs of one fault are summed up."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vigil.bench.demo_delay import summary


@pytest.mark.slow
def test_bench_demo_delay_crash_is_detected() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vigil.cli", "bench", "demo-delay", "--scrape-interval", "1", "--warmup", "5",
         "--faults", "crash", "--runs", "2", "--detect-timeout", "15", "--recovery", "1", "--json"],
        check=False, capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["scrape_interval_s"] == 1.0 and out["runs"] == 2
    [row] = out["faults"]
    for key in ("fault", "delay_s", "delay_scrape_intervals", "detected", "signal", "delay_min_s", "delay_max_s"):
        assert key in row
    assert row["fault"] == "crash" and row["detected"] is True and row["detected_runs"] == 2
    assert len(row["delays_s"]) == 2 and all(0 <= d <= 15 for d in row["delays_s"])
    assert row["delay_min_s"] == min(row["delays_s"]) and row["delay_max_s"] == max(row["delays_s"])
    assert row["delay_s"] == pytest.approx(sum(row["delays_s"]) / 2, abs=0.01)  # the median of two
    assert row["delay_scrape_intervals"] == pytest.approx(row["delay_s"] / 1.0, abs=0.01)
    assert row["signal"]["kind"] and row["signal"]["reason"]


def trial(delay: float | None, kind: str = "anomaly") -> dict:
    return {"detected": delay is not None, "delay_s": delay, "signals_in_quiet_before": 1,
            "signal": None if delay is None else {"kind": kind, "reason": f"after {delay}"}}


def test_summary_reports_the_median_run_and_the_spread() -> None:
    row = summary("latency", "catalog", {}, [trial(9.0), trial(2.0, "threshold"), trial(4.0)], S=5.0,
                  recovery=30.0)
    assert (row["delay_s"], row["delay_min_s"], row["delay_max_s"]) == (4.0, 2.0, 9.0)
    assert row["delay_scrape_intervals"] == 0.8 and row["delays_s"] == [9.0, 2.0, 4.0]
    assert row["signal"] == {"kind": "anomaly", "reason": "after 4.0"}  # the median run's
    assert row["detected"] and row["within_target"] and row["signals_in_quiet_before"] == 3


def test_summary_of_missed_runs() -> None:
    row = summary("errors", "catalog", {}, [trial(None), trial(20.0)], S=5.0, recovery=30.0)
    assert row["detected"] is False and row["detected_runs"] == 1 and row["within_target"] is False
    assert row["delay_s"] == 20.0 and row["delays_s"] == [None, 20.0]
    none = summary("errors", "catalog", {}, [trial(None)], S=5.0, recovery=30.0)
    assert none["delay_s"] is None and none["delay_min_s"] is None and none["signal"] is None
