"""What a root-cause ranker reads about an incident: for every service in the incident's part of the
dependency graph, each of its series in a window before the start (its own history) and a short window
after it, read from vigil's store through its `SeriesReader` face; and the graph itself.

How much is read is `Reads`: after the start, `max(after_min_s, after_steps x the series' own sampling
interval)`, at most `after_max_s` (5 minutes, or 2 samples when a series is sampled more slowly than
every 2.5 minutes, never more than 10 minutes past the start); before it, the last `history_samples`
samples, from at most `max_lookback_s` back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from vigil.model import SeriesKey
from vigil.store.faces import SeriesReader


@dataclass(frozen=True)
class Reads:
    """How much of each series a ranking reads: its last `history_samples` samples before the start
    (from at most `max_lookback_s` back) and `after(step)` seconds after it."""

    history_samples: int = 120
    after_min_s: float = 300.0
    after_steps: int = 2
    after_max_s: float = 600.0
    max_lookback_s: float = 86_400.0

    def after(self, step: float) -> float:
        """A few minutes, or a few of the series' own samples, never more than `after_max_s`."""
        return min(max(self.after_min_s, self.after_steps * step), max(self.after_max_s, self.after_min_s))


@dataclass(frozen=True)
class SeriesWindow:
    """One series around the start: its samples before (`before_*`) and after (`after_*`) it."""

    key: SeriesKey
    before_ts: np.ndarray
    before: np.ndarray
    after_ts: np.ndarray
    after: np.ndarray

    @property
    def step(self) -> float:
        """The series' own sampling interval (median gap), 60 s when it cannot tell."""
        if len(self.before_ts) < 3:
            return 60.0
        return float(np.median(np.diff(self.before_ts)))


@dataclass
class Evidence:
    """Everything a ranker may read: `series[service]` are that service's windows, `depends_on` maps a
    caller to the services it calls (vigil's `services[].depends_on`), empty when there is no graph."""

    start: float
    series: dict[str, list[SeriesWindow]]
    depends_on: dict[str, list[str]] = field(default_factory=dict)
    read_until: float = 0.0  # the latest sample time any window may hold

    @property
    def services(self) -> list[str]:
        return sorted(self.series)


def scope(services: Iterable[str], depends_on: Mapping[str, Sequence[str]],
          known: Iterable[str]) -> list[str]:
    """The incident's part of the graph: its services and every service connected to them through
    `depends_on` (either direction, any distance). Without a graph, or when one of the incident's
    services is in no edge of it, every known service is in scope: nothing says which of them could be
    involved (an SLI series with no place in the graph would otherwise be ranked alone)."""
    known = sorted(set(known))
    if not any(depends_on.values()):
        return known
    neighbours: dict[str, set[str]] = {}
    for caller, callees in depends_on.items():
        for callee in callees:
            neighbours.setdefault(caller, set()).add(callee)
            neighbours.setdefault(callee, set()).add(caller)
    services = list(services)
    if any(s not in neighbours for s in services):
        return known  # a service outside the graph: nothing says which others it involves
    seen, todo = set(), [s for s in services]
    while todo:
        s = todo.pop()
        if s in seen:
            continue
        seen.add(s)
        todo += sorted(neighbours.get(s, ()))
    return sorted(seen & set(known))


def services_in_store(store: SeriesReader) -> list[str]:
    return sorted({dict(info.key.labels).get("service", "") for info in store.list_series()} - {""})


def read_window(store: SeriesReader, key: SeriesKey, start: float, reads: Reads) -> SeriesWindow:
    before = store.query_range(key, start - reads.max_lookback_s, np.nextafter(start, -np.inf))
    n = reads.history_samples
    bts, bvals = np.asarray(before.ts, float)[-n:], np.asarray(before.values, float)[-n:]
    window = SeriesWindow(key, bts, bvals, np.empty(0), np.empty(0))
    after = store.query_range(key, start, start + reads.after(window.step))
    return SeriesWindow(key, bts, bvals, np.asarray(after.ts, float), np.asarray(after.values, float))


def read_evidence(store: SeriesReader, start: float, services: Iterable[str],
                  depends_on: Mapping[str, Sequence[str]] | None = None, reads: Reads = Reads()) -> Evidence:
    """The evidence for an incident starting at `start` among `services` (see `scope`). Blocking: run it
    on the worker, never on the event loop."""
    graph = {caller: list(callees) for caller, callees in (depends_on or {}).items()}
    series: dict[str, list[SeriesWindow]] = {}
    read_until = start
    for service in services:
        windows = []
        for info in store.list_series(matchers={"service": service}):
            w = read_window(store, info.key, start, reads)
            if len(w.before) or len(w.after):
                windows.append(w)
                if len(w.after_ts):
                    read_until = max(read_until, float(w.after_ts[-1]))
        series[service] = windows
    return Evidence(start, series, graph, read_until)
