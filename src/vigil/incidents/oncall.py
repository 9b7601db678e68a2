"""Who is on call at a moment: a schedule's layers (rotations) and overrides, computed, not stored.

A layer hands over from one user to the next every `every` days, weeks or hours. Daily and weekly
handoffs happen at the same local time (`handoff`) in the schedule's time zone whatever the offset
that day, so a 09:00 handoff stays at 09:00 across a DST change (the shift that spans it is an hour
shorter or longer); a handoff time that does not exist that day (inside the spring-forward gap) falls
at the same wall time with the offset before the change, i.e. just after the gap (Python's zoneinfo, PEP
495). Hourly shifts are lengths of real time from the first handoff, so they drift against the wall
clock by the DST hour. Where several layers have someone, the last layer in the list wins (it is "on
top", as in PagerDuty); an override wins over every layer, and of overlapping overrides the later in
the list wins. Everything here is a pure function of the configuration and the time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from vigil.config.oncall import Layer, Override, Schedule

HOUR = 3600.0
MAX_RANGE_S = 93 * 86400.0  # the longest span of shifts computed at once
AROUND_S = 31 * 86400.0  # how far `current` looks back and ahead for the ends of a shift


@dataclass(frozen=True, slots=True)
class Shift:
    """`user` is on call from `start` to `end` (seconds), because of `source`: a layer's name
    (`layer 1` when unnamed) or `override`."""

    start: float
    end: float
    user: str
    source: str


@dataclass(frozen=True, slots=True)
class OnCall:
    """Who is on call at `at`, and since / until when the same person, for the same reason, is (None
    where that lies more than AROUND_S away)."""

    user: str
    source: str
    since: float | None
    until: float | None


class Rotation:
    """One layer, ready to answer: the start of shift k, the shift at a time, the handoffs in a span."""

    def __init__(self, layer: Layer, zone: ZoneInfo, index: int) -> None:
        self.layer, self.zone = layer, zone
        self.name = layer.name or f"layer {index + 1}"
        self.users = list(layer.users)
        unit = {"hourly": 0, "daily": 1, "weekly": 7}[layer.rotation]
        self.days = layer.every * unit  # 0: hourly shifts, counted in real time
        self.first = self._local(layer.start)
        self.end = self._local(layer.end) if layer.end is not None else None

    def _local(self, day: dt.date) -> float:
        return dt.datetime.combine(day, self.layer.handoff, tzinfo=self.zone).timestamp()

    def boundary(self, k: int) -> float:
        """When shift k starts (shift 0 at the first handoff)."""
        if not self.days:
            return self.first + k * self.layer.every * HOUR
        return self._local(self.layer.start + dt.timedelta(days=k * self.days))

    def _index(self, t: float) -> int:
        """The shift under way at t (t at or after the first handoff)."""
        if not self.days:
            k = int((t - self.first) // (self.layer.every * HOUR))
        else:
            local = dt.datetime.fromtimestamp(t, self.zone).date()
            k = (local - self.layer.start).days // self.days
        while k > 0 and self.boundary(k) > t:  # the estimate may be one off around a handoff and a DST change
            k -= 1
        while self.boundary(k + 1) <= t:
            k += 1
        return k

    def at(self, t: float) -> Shift | None:
        if t < self.first or (self.end is not None and t >= self.end):
            return None
        k = self._index(t)
        end = self.boundary(k + 1)
        if self.end is not None:
            end = min(end, self.end)
        return Shift(self.boundary(k), end, self.users[k % len(self.users)], self.name)

    def handoffs(self, t0: float, t1: float) -> Iterator[float]:
        """Every moment in (t0, t1) at which this layer's person changes or it starts or ends."""
        if self.end is not None and self.end <= t0:
            return
        if self.first >= t0:
            k = 0
        else:
            k = self._index(t0) + 1
        while True:
            b = self.boundary(k)
            if b >= t1 or (self.end is not None and b >= self.end):
                break
            if b > t0:
                yield b
            k += 1
        if self.end is not None and t0 < self.end < t1:
            yield self.end


class Roster:
    """A schedule, prepared once (its rotations and overrides), then asked about any time."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.name = schedule.name
        self.rotations = [Rotation(layer, schedule.zone, i) for i, layer in enumerate(schedule.layers)]
        self.overrides: list[Override] = list(schedule.overrides)

    def on_call_at(self, t: float, overrides: list[Override] | None = None) -> Shift | None:
        """The shift that decides who is on call at t: the last override covering t, else the top layer
        with someone."""
        for o in reversed(self.overrides if overrides is None else overrides):
            if o.start <= t < o.end:
                return Shift(o.start, o.end, o.user, "override")
        for rotation in reversed(self.rotations):
            shift = rotation.at(t)
            if shift is not None:
                return shift
        return None

    def shifts(self, t0: float, t1: float) -> list[Shift]:
        """Who is on call from t0 to t1, as consecutive shifts (gaps where nobody is); a person's
        consecutive shifts for the same reason are one. At most MAX_RANGE_S long."""
        if t1 <= t0:
            return []
        if t1 - t0 > MAX_RANGE_S:
            raise ValueError(f"a range of shifts is at most {int(MAX_RANGE_S // 86400)} days; "
                             f"asked for {(t1 - t0) / 86400:.1f}")
        near = [o for o in self.overrides if o.end > t0 and o.start < t1]
        cuts = {t0, t1}
        for rotation in self.rotations:
            cuts.update(rotation.handoffs(t0, t1))
        for o in near:
            cuts.update(x for x in (o.start, o.end) if t0 < x < t1)
        points = sorted(cuts)
        out: list[Shift] = []
        for a, b in zip(points, points[1:], strict=False):
            shift = self.on_call_at(a, near)
            if shift is None:
                continue
            if out and out[-1].end == a and out[-1].user == shift.user and out[-1].source == shift.source:
                out[-1] = Shift(out[-1].start, b, shift.user, shift.source)
            else:
                out.append(Shift(a, b, shift.user, shift.source))
        return out

    def current(self, t: float) -> OnCall | None:
        """Who is on call at t, with since / until when (looked up to AROUND_S either side)."""
        if self.on_call_at(t) is None:
            return None
        lo, hi = t - AROUND_S, t + AROUND_S
        for shift in self.shifts(lo, hi):
            if shift.start <= t < shift.end:
                return OnCall(shift.user, shift.source, None if shift.start <= lo else shift.start,
                              None if shift.end >= hi else shift.end)
        return None  # pragma: no cover - on_call_at found someone, so a shift holds t


def on_call(schedule: Schedule, t: float) -> str | None:
    """The user on call in `schedule` at `t` (seconds), or None."""
    shift = Roster(schedule).on_call_at(t)
    return shift.user if shift is not None else None
