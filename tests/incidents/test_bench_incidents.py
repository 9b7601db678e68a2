"""Smoke test of `vigil bench incidents` at a small size (the figures are measured by hand): a real
`vigil up` takes the alerts through both endpoints, notifies the loopback sink, and the JSON has the
fields the issue names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.slow


def test_the_bench_runs_small_and_reports_the_issues_fields() -> None:
    vigil = Path(sys.executable).parent / "vigil"
    done = subprocess.run([str(vigil), "bench", "incidents", "--open-alerts", "100,400", "--window", "200",
                           "--batch", "50", "--trials", "3", "--notifications", "100", "--settle", "0.5", "--json"],
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = orjson.loads(done.stdout)
    assert out["open_alerts"] == 400 and out["alerts_per_s"] > 0 and out["outbox_notifications_per_s"] > 0
    assert [p["open_alerts"] for p in out["cost_by_open_alerts"]] == [100, 400]
    assert all(p["alerts"] >= 200 and p["cpu_seconds"] > 0 for p in out["cost_by_open_alerts"])
    assert out["signal_to_notification_trials"] == 3 and out["signal_to_notification_s_p95"] is not None
    assert out["resend_alerts"] == 400 and out["outbox"]["notifications"] == 100


def test_bad_open_counts_are_refused_with_the_option_named() -> None:
    vigil = Path(sys.executable).parent / "vigil"
    done = subprocess.run([str(vigil), "bench", "incidents", "--open-alerts", "1k,5k"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2 and "--open-alerts" in done.stderr
