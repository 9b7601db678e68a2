from __future__ import annotations

import numpy as np

from vigil.detect.rules import ThresholdRule, absence, burn_rate, rate_of_change, slo_burn, will_cross
from vigil.detect.trends import drift, memory_leak, psi
from vigil.model import Severity


def test_threshold_for_and_hysteresis() -> None:
    rule = ThresholdRule("api", "latency", limit=1.0, for_s=60, clear=0.8)
    assert rule.observe(0, 2.0) is None and rule.observe(30, 2.0) is None
    sig = rule.observe(60, 2.0)
    assert sig is not None and sig.kind == "threshold" and "for 60 s" in sig.reason
    assert rule.observe(70, 2.0) is None  # once per episode
    assert rule.observe(80, 0.9) is None and rule.firing  # between clear and limit: still firing
    rule.observe(90, 0.7)
    assert not rule.firing
    assert rule.observe(100, float("nan")) is None


def test_absence() -> None:
    assert absence("api", "up", 100.0, 150.0, for_s=60) is None
    assert absence("api", "up", 100.0, 170.0, for_s=60).kind == "absence"
    assert "never" in absence("api", "up", None, 10.0, for_s=60).reason


def test_rate_and_will_cross() -> None:
    ts = np.arange(0, 600, 15.0)
    disk = 50 + 0.01 * ts
    assert rate_of_change("db", "disk", ts, disk, max_per_s=0.005).kind == "rate_of_change"
    assert rate_of_change("db", "disk", ts, disk, max_per_s=0.05) is None
    sig = will_cross("db", "disk", ts, disk, limit=90, within_s=3 * 3600)
    assert sig is not None and abs(sig.evidence["eta_s"] - (90 - disk[-1]) / 0.01) < 1
    assert will_cross("db", "disk", ts, disk, limit=90, within_s=600) is None
    assert will_cross("db", "disk", ts, disk, limit=10, within_s=1e9) is None  # moving away


def test_multiwindow_burn_rate() -> None:
    ts = np.arange(0, 4 * 86400, 60.0)
    total = np.full(ts.size, 100.0)
    good = total.copy()
    now = ts[-1]
    assert slo_burn("api", "availability", ts, good, total, 0.999, now) == []
    good[ts > now - 3600] = 97.0  # 3 % errors for the last hour: 30x burn on a 99.9 % SLO
    sigs = slo_burn("api", "availability", ts, good, total, 0.999, now)
    assert [s.severity for s in sigs] == [Severity.CRITICAL]
    assert abs(burn_rate(ts, good, total, 0.999, now, 3600) - 30.0) < 1e-6
    good[ts > now - 240] = 100.0  # fixed: the 5-minute window resets the fast alert
    assert slo_burn("api", "availability", ts, good, total, 0.999, now) == []


def test_memory_leak_and_time_to_limit() -> None:
    ts = np.arange(0, 3600, 30.0)
    rng = np.random.default_rng(0)
    mem = 500 + 0.05 * ts + rng.normal(0, 2, ts.size)  # 180 MB/h on ~680 MB
    sig = memory_leak("api", "rss_mb", ts, mem, limit=1024)
    assert sig is not None and sig.kind == "leak" and 20 < sig.evidence["growth_pct_per_h"] < 35
    assert 1.5 < sig.evidence["eta_s"] / 3600 < 2.2
    flat = 500 + rng.normal(0, 2, ts.size)
    assert memory_leak("api", "rss_mb", ts, flat) is None
    assert memory_leak("api", "rss_mb", ts[:10], mem[:10]) is None  # too short to say


def test_drift_needs_ks_and_psi_to_agree() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(100, 10, 2000)
    assert drift("api", "latency", ref, rng.normal(100, 10, 2000), now=0) is None
    sig = drift("api", "latency", ref, rng.normal(130, 10, 2000), now=0)
    assert sig is not None and sig.kind == "drift" and sig.evidence["psi"] > 0.2
    assert psi(ref, ref) < 0.01
    assert drift("api", "latency", ref[:5], ref[:5], now=0) is None
