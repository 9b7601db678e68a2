"""`vigil explain`: for a service and a time range, what fired and why.

Two views: what was recorded (signals, health changes, decisions, from the store), and, with
`replay`, what the detectors and the service's rules would conclude from the stored data, as a dry run
that writes nothing. Detectors start fresh with the live stage's policy; rules run through the live
rules stage, fed the range's samples in time order on a simulated clock, reading the store as it was
at each moment (no sample from later)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np

from vigil.config import VigilConfig
from vigil.model import Alert, Sample, SeriesKey, Signal
from vigil.pipeline import Batch
from vigil.stages.detection import DetectionStage
from vigil.stages.rules import RulesStage
from vigil.testing import FakeClock, InlineWriter

T = TypeVar("T")

RECENT_S = 300.0  # the newest sample before a moment is looked for here first


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
    rules_replayed: int = 0  # rules of the service re-evaluated
    rule_signals: list[Signal] | None = None  # what they would have fired
    rule_clears: list[Alert] | None = None  # and when those episodes would have ended (resolved alerts)


class _DryStore:
    """The store as a replay sees it: reads end at `now` (the replay's moment), nothing is written,
    and no saved state is loaded (detectors and rules start from scratch)."""

    def __init__(self, store: Any, lookback: float = 0.0) -> None:
        self.store, self.lookback = store, lookback
        self.now = float("inf")

    def list_series(self, *args: Any, **kwargs: Any) -> Any:
        return self.store.list_series(*args, **kwargs)

    def query_range(self, key: SeriesKey, start: float, end: float, *args: Any, **kwargs: Any) -> Any:
        return self.store.query_range(key, start, min(end, self.now), *args, **kwargs)

    def latest(self, key: SeriesKey) -> tuple[float, float] | None:
        """The newest sample at or before `now`, if any in the last `lookback` seconds."""
        for span in dict.fromkeys((RECENT_S, max(RECENT_S, self.lookback))):  # each span once
            r = self.store.query_range(key, self.now - span, self.now, resolution="raw")
            if len(r.ts):
                return float(r.ts[-1]), float(r.values[-1])
        return None

    def load_state(self, key: str) -> None:
        return None

    def save_state(self, key: str, blob: bytes) -> None:
        return None


class _NoWriter(InlineWriter):
    """Writes nothing (a dry run): every write the stages hand it is dropped."""

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return cast(T, None)

    def call_blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return cast(T, None)


async def explain(config: VigilConfig, store: Any, service: str, start: float, end: float,
                  replay: bool = False, clock: Any = None) -> Explanation:
    config.service(service)  # KeyError for an unknown service: the CLI says so
    out = Explanation(
        service, start, end,
        signals=store.signals(since=start, until=end, service=service, limit=10_000),
        events=store.events(since=start, until=end, service=service, limit=10_000),
        decisions=[d for d in store.decisions(since=start, limit=10_000) if d.subject == service and d.ts <= end])
    if replay:
        samples = _samples(store, service, start, end)
        out.replayed, out.replayed_series = await _replay(config, store, samples, end, clock)
        out.replayed_points = len(samples)
        out.rules_replayed = len(config.service(service).rules)
        out.rule_signals, out.rule_clears = await _replay_rules(config, store, service, samples, start, end)
    return out


def _samples(store: Any, service: str, start: float, end: float) -> list[Sample]:
    """Every stored sample of the service in [start, end], in time order."""
    out: list[Sample] = []
    for info in store.list_series(matchers={"service": service}, limit=100_000):
        res = store.query_range(info.key, start, end, resolution="raw")
        out.extend(Sample(info.key, float(t), float(v)) for t, v in zip(res.ts, res.values))
    out.sort(key=lambda s: s.ts)
    return out


async def _replay(config: VigilConfig, store: Any, samples: list[Sample], end: float,
                  clock: Any) -> tuple[list[Signal], int]:
    stage = DetectionStage(config, _DryStore(store), _NoWriter(), InlineWriter(), clock or FakeClock(end))
    batch = Batch(now=end, samples=list(samples))
    await stage.run(batch)
    watched = sum(1 for w in stage.watches.values() if w is not None)
    return sorted(batch.signals, key=lambda s: s.ts), watched


async def _replay_rules(config: VigilConfig, store: Any, service: str, samples: list[Sample], start: float,
                        end: float) -> tuple[list[Signal], list[Alert]]:
    """The live rules stage over [start, end], as if vigil had started at `start`: one batch per
    sample time (and one per evaluation of the window rules while no data comes), in order."""
    rules = config.service(service).rules
    if not rules:
        return [], []
    dry = _DryStore(store, _lookback(rules))
    clock = FakeClock(start)
    only = config.model_copy(update={"services": [config.service(service)]})
    stage = RulesStage(only, dry, clock, _NoWriter(), InlineWriter())
    fired: list[Signal] = []
    ended: list[Alert] = []
    ts = np.array([s.ts for s in samples], dtype=float)
    done = 0
    for now in map(float, _moments(ts, stage, start, end)):
        upto = int(np.searchsorted(ts, now, side="right"))
        clock.set(now)
        dry.now = now
        batch = Batch(now=now, samples=samples[done:upto])
        done = upto
        await stage.run(batch)
        fired += batch.signals
        ended += [a for a in batch.alerts if not a.firing]
    return fired, ended


def _moments(ts: np.ndarray, stage: RulesStage, start: float, end: float) -> np.ndarray:
    cadence = min((r.config.evaluate_every for r in stage.windowed), default=None)
    grid = np.arange(start, end, cadence) if cadence else np.empty(0)
    return np.unique(np.concatenate([ts, grid, [end]]))


def _lookback(rules: list[Any]) -> float:
    """The longest history a rule asks `latest` about (SLOs read sums, not the newest sample)."""
    spans = [getattr(r, k, 0.0) or 0.0 for r in rules if r.kind != "slo" for k in ("window", "for_", "current")]
    return max(spans, default=0.0)
