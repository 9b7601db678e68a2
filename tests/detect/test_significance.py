"""Practical significance: the unit read from a series name, the floor per unit, the config, and the
policy in the real engine (a quiet probe latency moving from 3 ms to 18 ms is not a signal)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from vigil.app import build_app
from vigil.config import parse_config
from vigil.config.detect import DetectConfig, MinChange
from vigil.detect import DETECTORS
from vigil.detect.significance import DefaultFloors, floor_for, is_significant, significant, unit_of
from vigil.model import Sample, SeriesKey
from vigil.sources import Collection
from vigil.testing import FakeClock


@pytest.mark.parametrize(("name", "unit"), [
    ("probe_duration_seconds", ("seconds", 1.0)),
    ("http_request_duration_seconds", ("seconds", 1.0)),
    ("http_request_duration_seconds_sum:rate", ("seconds", 1.0)),
    ("latency_ms", ("seconds", 1e-3)),
    ("db_latency_ms_p99", ("seconds", 1e-3)),
    ("latency_s", ("seconds", 1.0)),
    ("gc_pause_us", ("seconds", 1e-6)),
    ("process_resident_memory_bytes", ("bytes", 1.0)),
    ("node_network_receive_bytes_total:rate", ("bytes", 1.0)),
    ("disk_used_gb", ("bytes", 1e9)),
    ("cpu_percent", ("percent", 1.0)),
    ("cache_hit_ratio", ("percent", 100.0)),
    ("ec2_cpu_utilization", ("utilization", 1.0)),
    ("job:http_latency_seconds:p95", ("seconds", 1.0)),
])
def test_unit_from_prometheus_names(name: str, unit: tuple[str, float]) -> None:
    assert unit_of(name) == unit


@pytest.mark.parametrize("name", ["http_requests_total:rate", "http_request_duration_seconds_count:rate",
                                  "http_request_duration_seconds_bucket", "queue_depth", "errors", "latency",
                                  "", "_", "seconds_jobs"])
def test_counts_and_unknown_units_have_no_floor(name: str) -> None:
    assert unit_of(name) is None
    assert floor_for(name, 5.0, 1.0, DefaultFloors()) == 0.0
    assert is_significant(name, 1.0 + 1e-9, 1.0)


def test_the_quiet_service_case_is_not_significant() -> None:
    # issue 9 item 17: "5.2 robust deviations above the expected 0.003113" for 18 ms
    assert not is_significant("probe_duration_seconds", 0.018, 0.003113)
    assert is_significant("probe_duration_seconds", 0.3, 0.003113)
    assert not is_significant("latency_ms", 18.0, 3.0)
    assert is_significant("latency_ms", 53.5, 3.0)


def test_floors_per_unit_and_their_edges() -> None:
    d = DefaultFloors()
    assert floor_for("latency_ms", 1, 1, d) == pytest.approx(50.0)
    assert floor_for("process_resident_memory_bytes", 1, 1, d) == 1024 ** 2
    assert floor_for("disk_used_gb", 1, 1, d) == pytest.approx(1024 ** 2 / 1e9)
    assert floor_for("cpu_percent", 1, 1, d) == 5.0
    assert floor_for("cache_hit_ratio", 0.5, 0.5, d) == pytest.approx(0.05)
    # utilization: a percentage when either value is above 1, a 0-1 ratio otherwise
    assert floor_for("ec2_cpu_utilization", 40.0, 38.0, d) == 5.0
    assert floor_for("ec2_cpu_utilization", 0.4, 0.38, d) == pytest.approx(0.05)
    assert is_significant("cpu_percent", 45.0, 40.0) and not is_significant("cpu_percent", 44.9, 40.0)
    assert is_significant("latency_ms", -60.0, 0.0)  # a drop counts like a rise
    assert is_significant("latency_ms", float("nan"), 3.0) and is_significant("latency_ms", 3.0, float("inf"))


def test_configured_floors_and_zero_turns_a_floor_off() -> None:
    floors = MinChange(seconds="10ms", bytes="1GiB", percent=0)
    assert is_significant("latency_ms", 18.0, 3.0, floors)
    assert not is_significant("process_resident_memory_bytes", 2e8, 1e8, floors)
    assert is_significant("cpu_percent", 40.1, 40.0, floors)


def test_config_parses_sizes_and_durations_and_refuses_nonsense() -> None:
    assert DetectConfig().min_change == MinChange(seconds=0.05, bytes=1024 ** 2, percent=5)
    c = DetectConfig(min_change={"seconds": "250ms", "bytes": "500kB", "percent": 2.5}).min_change
    assert (c.seconds, c.bytes, c.percent) == (0.25, 500_000, 2.5)
    assert DetectConfig(min_change={"bytes": 4096}).min_change.bytes == 4096
    for bad, where in (({"bytes": "ten MiB"}, "size like 1MiB"), ({"percent": 120}, "less than or equal"),
                       ({"seconds": "-1s"}, "duration"), ({"bytes": -5}, "size like"),
                       ({"kelvin": 1}, "Extra inputs")):
        with pytest.raises(ValidationError, match=where):
            DetectConfig(min_change=bad)


def test_significant_reads_what_the_detector_expected() -> None:
    det = DETECTORS.create("ensemble")
    ts = 1_700_000_000.0 + 10.0 * np.arange(300)
    xs = 0.003 + np.random.default_rng(3).normal(0, 0.00005, 300)
    det.score_many(ts, xs)
    score = det.update(ts[-1] + 10, 0.018)
    assert score.value >= 0.5  # the detector alone calls it anomalous ...
    assert det.expected() == pytest.approx(0.003, abs=2e-4)
    assert not significant("probe_duration_seconds", 0.018, det)  # ... the floor says it does not matter
    assert significant("queue_depth", 0.018, det)  # no unit, no floor
    assert significant("probe_duration_seconds", 0.018, object())  # a detector with no expectation


# -- the policy in the real engine --------------------------------------------------------------------

T0 = 1_700_000_000.0
CFG = """
store: {{url: "sqlite:///{db}"}}
services:
  - name: quiet
    detect: {{cooldown: 1m{extra}}}
"""


class ProbeLatency:
    """A source replaying a scripted probe latency (seconds), one value per 10 s run."""

    kind, name, service, interval, timeout = "scrape", "scrape", "quiet", 10.0, 2.0

    def __init__(self, values: list[float]) -> None:
        self.values = list(values)
        self.key = SeriesKey.of("probe_duration_seconds", {"service": "quiet"})

    async def collect(self, now: float) -> Collection:
        v = self.values.pop(0) if self.values else 0.003
        return Collection("quiet", "scrape", now, samples=[Sample(self.key, now, v)])


async def _signals(db: Path, values: list[float], extra: str = "") -> list:
    cfg = parse_config(CFG.format(db=db, extra=extra), env={})
    clock = FakeClock(T0)
    _, engine = build_app(cfg, clock=clock, collectors=[ProbeLatency(values)])
    await engine.start()
    await clock.advance(10.0 * len(values) + 5)
    await engine.stop()
    signals = engine.store.signals(service="quiet")
    engine.store.close()
    return signals


def _quiet(n: int) -> list[float]:
    return list(0.003 + np.random.default_rng(7).normal(0, 0.00005, n))


async def test_a_change_below_the_floor_is_not_a_signal(tmp_path: Path) -> None:
    values = _quiet(200) + [0.018] * 5 + _quiet(20)
    assert await _signals(tmp_path / "a.db", values) == []
    # The same data with the floor turned off: the detector's verdict alone makes a signal.
    off = await _signals(tmp_path / "b.db", values, ", min_change: {seconds: 0}")
    assert len(off) == 1 and "0.018" in off[0].reason


async def test_a_change_above_the_floor_is_still_a_signal(tmp_path: Path) -> None:
    values = _quiet(200) + [0.4] * 5 + _quiet(20)
    signals = await _signals(tmp_path / "c.db", values)
    assert len(signals) == 1 and signals[0].kind == "anomaly" and "0.4" in signals[0].reason
