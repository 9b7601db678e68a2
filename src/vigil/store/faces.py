"""The faces of the store that the engine's stages use, as small protocols: each stage names the few
methods it needs, so a test can hand it a small fake and a reader can see what a stage touches.
`vigil.store.Store` implements all of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from vigil.incidents.model import Incident, Member, TimelineEntry
from vigil.model import Alert, Decision, Event, Health, ProbeResult, Sample, SeriesKey, Signal


class StateStore(Protocol):
    """Opaque blobs by key: detector state, rule episodes, model versions, open warnings."""

    def save_state(self, key: str, blob: bytes) -> None: ...

    def load_state(self, key: str) -> bytes | None: ...


class SampleStore(Protocol):
    def write_samples(self, items: Sequence[Sample]) -> int: ...

    def write_batch(self, keys: Sequence[SeriesKey], ts: np.ndarray, values: np.ndarray) -> int: ...

    def write_probe_results(self, results: Sequence[ProbeResult]) -> None: ...


class SeriesReader(Protocol):
    def list_series(self, name: str | None = None, matchers: dict[str, str] | None = None,
                    limit: int = 10_000) -> list[Any]: ...

    def query_range(self, key: SeriesKey, start: float, end: float, step: float | None = None,
                    resolution: str = "auto") -> Any: ...

    def latest(self, key: SeriesKey) -> tuple[float, float] | None: ...


class HealthLog(Protocol):
    def set_health(self, service: str, probe: str, health: Health, since: float, detail: str) -> None: ...


class RecordLog(StateStore, Protocol):
    """What the record stage writes: the conclusions of a pass."""

    def write_incidents(self, changed: Sequence[Incident], members: Sequence[Member],
                        timeline: Sequence[TimelineEntry]) -> None: ...

    def write_signals(self, items: Sequence[Signal]) -> None: ...

    def write_decisions(self, items: Sequence[Decision]) -> None: ...

    def append_events(self, items: Sequence[Event]) -> None: ...

    def write_alerts(self, items: Sequence[Alert], now: float) -> None: ...


class AlertReader(Protocol):
    def alerts(self, status: str | None = None, service: str | None = None, limit: int = 1000) -> list[Alert]: ...


class IncidentReader(Protocol):
    def incidents(self, status: str | None = None, service: str | None = None, since: float | None = None,
                  limit: int = 100, offset: int = 0, with_members: bool = False) -> list[Incident]: ...

    def last_incident_id(self) -> int: ...


class RulesStore(SeriesReader, StateStore, Protocol):
    """The rules stage reads series windows and keeps its episodes and timers."""


class ForecastStore(SeriesReader, StateStore, Protocol):
    """The forecast stage reads hourly history and keeps model versions and open warnings."""
