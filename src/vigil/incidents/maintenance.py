"""Maintenance windows (`alerting.maintenance_windows`): while a window is open, the alerts of its
services (and/or those its matchers match) are muted like a silence: still grouped, recorded and
shown, not notified. A window is either recurring (named `time_intervals`, Alertmanager's
vocabulary) or one-off (`starts_at` .. `ends_at`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from vigil.incidents.matchers import Matcher, matches_all, parse_matcher_lines
from vigil.incidents.timeintervals import TimeIntervals
from vigil.model import Alert


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    name: str
    services: frozenset[str]
    matchers: tuple[Matcher, ...]
    time_intervals: tuple[str, ...] = ()
    starts_at: float | None = None
    ends_at: float | None = None

    @classmethod
    def from_config(cls, c: Any) -> "MaintenanceWindow":
        return cls(c.name, frozenset(c.services), tuple(parse_matcher_lines(c.matchers)),
                   tuple(c.time_intervals), None if c.starts_at is None else c.starts_at.timestamp(),
                   None if c.ends_at is None else c.ends_at.timestamp())

    def open(self, now: float, intervals: TimeIntervals) -> bool:
        if self.time_intervals:
            return intervals.any_holds(self.time_intervals, now)
        if self.starts_at is None or self.ends_at is None:
            return False
        return self.starts_at <= now < self.ends_at

    def covers(self, alert: Alert) -> bool:
        if self.services and alert.labels.get("service", "") not in self.services:
            return False
        return matches_all(self.matchers, alert.labels)


class MaintenanceWindows:
    """The dispatcher's muter for maintenance windows."""

    reason = "maintenance"

    def __init__(self, windows: Sequence[MaintenanceWindow] = (),
                 intervals: TimeIntervals | None = None) -> None:
        self.windows = list(windows)
        self.intervals = intervals or TimeIntervals()

    @classmethod
    def from_config(cls, windows: Iterable[Any], intervals: TimeIntervals) -> "MaintenanceWindows":
        return cls([MaintenanceWindow.from_config(w) for w in windows], intervals)

    def open_now(self, now: float) -> list[MaintenanceWindow]:
        return [w for w in self.windows if w.open(now, self.intervals)]

    def mutes(self, alert: Alert, now: float) -> bool:
        return any(w.covers(alert) and w.open(now, self.intervals) for w in self.windows)
