from __future__ import annotations

import numpy as np

from vigil.detect.stage import DetectionStage
from vigil.model import Sample, SeriesKey, Severity


class DictStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def save_state(self, key: str, blob: bytes) -> None:
        self.blobs[key] = blob

    def load_state(self, key: str) -> bytes | None:
        return self.blobs.get(key)


def _samples(key: SeriesKey, start: int, n: int, rng) -> list[Sample]:
    return [Sample(key, 1_700_000_000.0 + 15.0 * i, 0.1 + rng.normal(0, 0.005)) for i in range(start, start + n)]


def test_latency_jump_becomes_one_signal_with_reason_and_survives_restart() -> None:
    rng = np.random.default_rng(0)
    key = SeriesKey.of("http_latency_seconds", {"service": "api"})
    stage = DetectionStage()
    assert stage.observe(_samples(key, 0, 400, rng), now=0.0) == []
    store = DictStore()
    stage.save(store)
    restored = DetectionStage()
    assert restored.load(store) == 1
    fault = [Sample(key, 1_700_000_000.0 + 15.0 * (400 + i), 0.5) for i in range(3)]
    signals = restored.observe(fault, now=1.0)
    assert len(signals) == 1  # one event, one signal
    sig = signals[0]
    assert sig.service == "api" and sig.kind == "anomaly" and sig.severity is Severity.CRITICAL
    assert "0.5" in sig.reason and sig.source == "detector:ensemble"


def test_series_beyond_the_bound_are_counted_not_scored() -> None:
    rng = np.random.default_rng(1)
    stage = DetectionStage(max_series=1)
    stage.observe(_samples(SeriesKey.of("a"), 0, 5, rng) + _samples(SeriesKey.of("b"), 0, 5, rng), now=0.0)
    assert len(stage.detectors) == 1 and stage.dropped_series == 5
