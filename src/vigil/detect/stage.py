"""The detection stage of the loop: feeds samples to one detector per series and turns scores at or
above the detector's shipped threshold into `Signal`s. Detectors score; the policy layer decides what
to do with signals (durations, hysteresis, cooldowns)."""

from __future__ import annotations

import json
from typing import Protocol

from vigil.detect import DEFAULT_DETECTOR, DETECTORS
from vigil.detect.base import Detector
from vigil.model import Sample, SeriesKey, Severity, Signal

INDEX_KEY = "detect:index"


class StateStore(Protocol):
    def save_state(self, key: str, blob: bytes) -> None: ...
    def load_state(self, key: str) -> bytes | None: ...


class DetectionStage:
    def __init__(self, kind: str = DEFAULT_DETECTOR, threshold: float | None = None,
                 critical: float = 0.9, max_series: int = 100_000) -> None:
        self.kind = kind
        self._cls = DETECTORS.load(kind)
        self.threshold = float(threshold if threshold is not None else self._cls.THRESHOLDS["standard"])
        self.critical = max(critical, self.threshold)
        self.max_series = max_series
        self.detectors: dict[SeriesKey, Detector] = {}
        self.dropped_series = 0  # samples of series beyond max_series: counted, not scored

    def _detector(self, key: SeriesKey) -> Detector | None:
        det = self.detectors.get(key)
        if det is None:
            if len(self.detectors) >= self.max_series:
                self.dropped_series += 1
                return None
            det = self.detectors[key] = self._cls()
        return det

    def observe(self, samples: list[Sample], now: float) -> list[Signal]:
        signals: list[Signal] = []
        for s in sorted(samples, key=lambda s: s.ts):  # a batch may arrive unordered
            det = self._detector(s.key)
            if det is None:
                continue
            score = det.update(s.ts, s.value)
            if score.value < self.threshold:
                continue
            signals.append(Signal(
                ts=s.ts, service=s.key.label_map.get("service", s.key.label_map.get("job", "")),
                series=str(s.key), kind="anomaly",
                severity=Severity.CRITICAL if score.value >= self.critical else Severity.WARNING,
                score=score.value, reason=score.reason, source=f"detector:{self.kind}",
                window_start=s.ts, window_end=s.ts,
                evidence={"value": s.value, "threshold": self.threshold, "observed_at": now}))
        return signals

    def save(self, store: StateStore) -> None:
        keys = [str(k) for k in self.detectors]
        for key, det in self.detectors.items():
            store.save_state(f"detect:{self.kind}:{key}", det.state())
        store.save_state(INDEX_KEY, json.dumps({"kind": self.kind, "series": keys}).encode())

    def load(self, store: StateStore) -> int:
        """Restore what normal looks like after a restart; returns how many series were restored."""
        raw = store.load_state(INDEX_KEY)
        if raw is None:
            return 0
        index = json.loads(raw)
        if index.get("kind") != self.kind:
            return 0  # another detector's state: start fresh rather than misread it
        restored = 0
        for text in index.get("series", []):
            blob = store.load_state(f"detect:{self.kind}:{text}")
            if blob is not None:
                self.detectors[SeriesKey.parse(text)] = self._cls.from_state(blob)
                restored += 1
        return restored
