"""The unit of work that flows through the engine's stages, and the protocols of the loop.

A Batch is everything that arrived since the last pass (samples, probe results, the outcome of each
metric collection, pushed samples) plus what the stages add to it on the way (signals, alerts,
decisions, events). Each stage reads what earlier stages wrote and adds its own; the engine alone
knows the order. A pass runs when something arrives and at every tick, so a batch may be empty: time
alone moves timers, retries and schedules forward."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np

from vigil.model import Alert, Decision, Event, ProbeResult, Sample, SeriesKey, Signal

T = TypeVar("T")


@dataclass(slots=True)
class CollectOutcome:
    """How one run of a metric source went: `error` is None when it collected."""

    service: str
    source: str
    ts: float
    error: str | None


@dataclass(slots=True)
class Push:
    """Samples pushed through the API, validated whole. `written` resolves once they are stored (with
    their count), or with the store's error: a push is stored whole or refused whole, never retried
    behind the caller's back."""

    keys: Sequence[SeriesKey]
    ts: np.ndarray
    values: np.ndarray
    source: str = "push"
    written: asyncio.Future[int] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def samples(self) -> list[Sample]:
        return [Sample(k, t, v) for k, t, v in zip(self.keys, self.ts.tolist(), self.values.tolist())]


@dataclass(slots=True)
class AlertsIn:
    """Alerts from outside (Alertmanager's API and webhook, PagerDuty, the generic endpoint).
    `recorded` resolves once the pass that took them has written them, or with why it could not."""

    alerts: list[Alert]
    events: list[Event] = field(default_factory=list)
    recorded: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class Batch:
    now: float
    samples: list[Sample] = field(default_factory=list)
    probes: list[ProbeResult] = field(default_factory=list)
    collected: list[CollectOutcome] = field(default_factory=list)
    pushes: list[Push] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)  # raw verdicts of detectors, rules, forecasts
    alerts: list[Alert] = field(default_factory=list)  # lifecycle changes: firing or resolved
    alerts_refreshed: list[Alert] = field(default_factory=list)  # firing again, unchanged: stored quietly
    decisions: list[Decision] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # State blobs to save once the pass's records are written: a crash in between repeats a record
    # (a warning raised again) rather than losing one.
    state: dict[str, bytes] = field(default_factory=dict)

    def empty(self) -> bool:
        """Nothing arrived: a pass on the tick."""
        return not (self.samples or self.probes or self.collected or self.pushes)


class Stage(Protocol):
    """One step of the loop. `start` runs once before the first pass (load state, compile), `run` on
    every pass, `close` once after the last (save state, release what it holds)."""

    name: str

    async def start(self) -> None: ...

    async def run(self, batch: Batch) -> None: ...

    async def close(self) -> None: ...


class Offload(Protocol):
    """Runs blocking work away from the event loop. The engine has two: the store writer (one thread,
    every write in order) and a worker (reads, fits, evaluations). `vigil.testing.InlineWriter` runs
    the call in place, so a fake-clock timeline needs no real time at all."""

    @property
    def in_flight(self) -> int:
        """Calls queued or running."""
        ...

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

    def call_blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """The same from a worker thread (never from the event loop): waits for the result."""
        ...

    def close(self) -> None: ...
