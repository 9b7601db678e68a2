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

from vigil.incidents.model import Incident, Member, TimelineEntry
from vigil.model import Alert, Decision, Event, Notice, ProbeResult, Sample, SeriesKey, Signal

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
        return list(map(Sample, self.keys, self.ts.tolist(), self.values.tolist()))  # map: the cheapest way


@dataclass(slots=True)
class AlertsIn:
    """Alerts from outside (Alertmanager's API and webhook, PagerDuty, the generic endpoint).
    `recorded` resolves once the pass that took them has written them, or with why it could not."""

    alerts: list[Alert]
    events: list[Event] = field(default_factory=list)
    recorded: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass(slots=True)
class Command:
    """Something a person asked for through the API (acknowledge an incident, add a note...), carried
    into a pass so that it changes state in the same place and order as everything else. The stage it
    is for calls `handled` with the outcome or `refused` with why (KeyError for an unknown subject,
    ValueError for a request that cannot be done); the caller hears once the pass is recorded."""

    target: str  # the stage's name: incidents, ...
    action: str
    args: dict[str, Any]
    actor: str  # who: an API key's name
    outcome: Any = None
    error: BaseException | None = None
    taken: bool = False
    done: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def handled(self, outcome: Any) -> None:
        self.outcome, self.taken = outcome, True

    def refused(self, error: BaseException) -> None:
        self.error, self.taken = error, True


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
    commands: list[Command] = field(default_factory=list)
    # incidents: what changed (written by record), and which incident each alert of this pass is in
    incidents: list[Incident] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    incident_of: dict[str, int] = field(default_factory=dict)  # alert fingerprint -> incident id
    notices: list[Notice] = field(default_factory=list)  # notifications to send (the notify stage)

    def empty(self) -> bool:
        """Nothing arrived: a pass on the tick."""
        return not (self.samples or self.probes or self.collected or self.pushes or self.alerts or self.commands)


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
