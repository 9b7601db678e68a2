"""`vigil explain`: for a service and a time range, what fired and why.

Two views: what was recorded (signals, health changes, decisions, from the store), and, with
`replay`, what the detectors would conclude now from the stored data, as a dry run that writes
nothing (fresh detectors, the same policy as the live stage)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vigil.config import VigilConfig
from vigil.model import Sample, Signal
from vigil.pipeline import Batch
from vigil.stages.detection import DetectionStage


@dataclass
class Explanation:
    service: str
    start: float
    end: float
    signals: list[Signal]
    events: list[Any]
    decisions: list[Any]
    replayed: list[Signal] | None = None
    replayed_series: int = 0
    replayed_points: int = 0


class _NoState:
    """Read the store's samples, but start detectors from scratch and write nothing."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def load_state(self, key: str) -> None:
        return None


class _NoWriter:
    async def call(self, *args: Any, **kwargs: Any) -> None:
        return None


async def explain(config: VigilConfig, store: Any, service: str, start: float, end: float,
                  replay: bool = False, clock: Any = None) -> Explanation:
    config.service(service)  # KeyError for an unknown service: the CLI says so
    out = Explanation(
        service, start, end,
        signals=store.signals(since=start, until=end, service=service, limit=10_000),
        events=store.events(since=start, until=end, service=service, limit=10_000),
        decisions=[d for d in store.decisions(since=start, limit=10_000) if d.subject == service and d.ts <= end])
    if replay:
        out.replayed, out.replayed_series, out.replayed_points = await _replay(config, store, service, start, end,
                                                                               clock)
    return out


async def _replay(config: VigilConfig, store: Any, service: str, start: float, end: float,
                  clock: Any) -> tuple[list[Signal], int, int]:
    from vigil.testing import FakeClock

    stage = DetectionStage(config, _NoState(store), _NoWriter(), clock or FakeClock(end))
    batch = Batch(now=end)
    series = store.list_series(matchers={"service": service}, limit=100_000)
    for info in series:
        res = store.query_range(info.key, start, end, resolution="raw")
        batch.samples.extend(Sample(info.key, float(t), float(v)) for t, v in zip(res.ts, res.values))
    await stage.run(batch)
    watched = sum(1 for w in stage.watches.values() if w is not None)
    return sorted(batch.signals, key=lambda s: s.ts), watched, len(batch.samples)
