"""Corroboration: an anomaly alert fires when related evidence agrees, not on one series' word.

A detector flags about one or two points per series per day that are not a problem (measured on the
RCA recordings: docs/rca.md), and a service has tens of series: on their own, anomaly alerts would open
an incident every half hour. A real fault moves several series of the failing service or of the
services next to it in the dependency graph within a minute or two. So a series' anomaly signal is
held as a *pending* alert, and fires when, within `window` of it, the signals of related series
(the same service, or one within `max_hops` of it in `depends_on`) add up to `evidence`: the sum over
distinct series of each one's best detector score. Each score is the detector's own calibrated
judgement of its series (0-1; the threshold is about 0.35), so the sum counts how many series agree
and how sure each is. An alert of any kind already firing on a related service (a probe, a rule, an
anomaly that was corroborated) corroborates at once: the problem is established. Signals are recorded
whether or not their alert fires; a pending alert that is not corroborated within `window` lapses.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from vigil.model import Alert


@dataclass(slots=True)
class Pending:
    series: str
    service: str
    alert: Alert
    held_at: float  # the signal's time
    window: float
    last_anomalous: float  # its series' newest anomalous point while held


@dataclass(frozen=True, slots=True)
class Verdict:
    corroborated: bool
    evidence: float
    series: tuple[str, ...]  # the series whose signals count, strongest first
    by_alert: str = ""  # a related firing alert that corroborates (its alertname and service)


class Corroboration:
    """The recent signals and the pending anomaly alerts, judged per service's neighbourhood."""

    def __init__(self, related: Callable[[str], Iterable[str]], keep: float) -> None:
        self._related, self.keep = related, keep  # keep: the longest window of any service
        self._near: dict[str, set[str]] = {}
        self.recent: deque[tuple[float, str, str, float]] = deque()  # (ts, service, series, score), by ts
        self.pending: dict[str, Pending] = {}  # series -> its held alert

    def near(self, service: str) -> set[str]:
        """The service and its neighbours (the graph does not change while the engine runs)."""
        found = self._near.get(service)
        if found is None:
            found = self._near[service] = set(self._related(service)) | {service}
        return found

    def add(self, ts: float, service: str, series: str, score: float) -> None:
        self.recent.append((ts, service, series, score))

    def hold(self, series: str, service: str, alert: Alert, ts: float, window: float) -> None:
        self.pending.setdefault(series, Pending(series, service, alert, ts, window, ts))

    def lapse(self, now: float) -> list[Pending]:
        """Forget signals older than any window; the pending alerts not corroborated in theirs."""
        while self.recent and self.recent[0][0] < now - self.keep:
            self.recent.popleft()
        gone = [s for s, p in self.pending.items() if p.held_at < now - p.window]
        return [self.pending.pop(s) for s in gone]

    def judge(self, service: str, ts: float, needed: float, window: float, firing: Iterable[Alert]) -> Verdict:
        """Is an anomaly of `service` at `ts` corroborated: by a related alert firing, or by the signals
        of related series within `window` adding up to `needed`?"""
        near = self.near(service)
        for alert in firing:
            if alert.service in near:
                return Verdict(True, 0.0, (), f"{alert.name} on {alert.service}")
        best: dict[str, float] = {}
        for t, svc, series, score in self.recent:
            if svc in near and ts - window <= t <= ts:
                best[series] = max(best.get(series, 0.0), score)
        total = sum(best.values())
        strongest = tuple(sorted(best, key=lambda s: -best[s]))
        return Verdict(total >= needed, round(total, 4), strongest)

    def release(self, service: str) -> list[Pending]:
        """The pending alerts of the service's neighbourhood, now corroborated, oldest first."""
        near = self.near(service)
        out = sorted((p for p in self.pending.values() if p.service in near), key=lambda p: p.held_at)
        for p in out:
            del self.pending[p.series]
        return out
