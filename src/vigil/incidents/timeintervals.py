"""Time intervals (`time_intervals:`) as Alertmanager defines and evaluates them
(timeinterval/timeinterval.go): `times` (HH:MM ranges, end exclusive), `weekdays`, `days_of_month`
(negative counts from the month's end), `months`, `years`, `location` (an IANA zone; UTC when absent).
Within one field the ranges are alternatives; across fields all must hold; a named interval is
a list of such, and holds when any of them does."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_WEEKDAYS = {name: i for i, name in enumerate(
    ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"))}
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}

Range = tuple[int, int]


def _parse_range(text: Any, member: Any) -> Range:
    text = str(text).lower()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 2:
            raise ValueError(f"couldn't parse range {text}, invalid format")
        return member(parts[0]), member(parts[1])
    v = member(text)
    return v, v


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def _weekday(text: str) -> int:
    if text not in _WEEKDAYS:
        raise ValueError(f"{text} is not a valid weekday")
    return _WEEKDAYS[text]


def _month(text: str) -> int:
    if text in _MONTHS:
        return _MONTHS[text]
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text} is not a valid month") from None


def parse_weekdays(text: str) -> Range:
    lo, hi = _parse_range(text, _weekday)
    if lo > hi:
        raise ValueError("start day cannot be before end day")
    return lo, hi


def parse_days_of_month(text: str) -> Range:
    lo, hi = _parse_range(text, _int)
    for v in (lo, hi):
        if v == 0 or v < -31 or v > 31:
            raise ValueError(f"{v} is not a valid day of the month: out of range")
    if lo < 0 < hi:
        raise ValueError("end day must be negative if start day is negative")
    # Months have at least 28 days: a range empty even then is a mistake.
    if (28 + lo if lo < 0 else lo) > (28 + hi if hi < 0 else hi):
        raise ValueError(f"end day {hi} is always before start day {lo}")
    return lo, hi


def parse_months(text: str) -> Range:
    lo, hi = _parse_range(text, _month)
    for v in (lo, hi):
        if not 1 <= v <= 12:
            raise ValueError(f"{v} is not a valid month: out of range")
    if lo > hi:
        raise ValueError(f"end month {calendar.month_name[hi].lower()} is before start month "
                         f"{calendar.month_name[lo].lower()}")
    return lo, hi


def parse_years(text: str) -> Range:
    lo, hi = _parse_range(text, _int)
    if lo > hi:
        raise ValueError(f"end year {hi} is before start year {lo}")
    return lo, hi


def parse_clock(text: str) -> int:
    """'HH:MM' (00:00 .. 24:00) to minutes of the day."""
    parts = str(text).split(":")
    ok = len(parts) == 2 and all(len(p) == 2 and p.isdigit() for p in parts)
    if not ok or not ((int(parts[0]) < 24 and int(parts[1]) < 60) or text == "24:00"):
        raise ValueError(f"couldn't parse timestamp {text}, invalid format")
    return int(parts[0]) * 60 + int(parts[1])


def parse_times(start: str, end: str) -> Range:
    lo, hi = parse_clock(start), parse_clock(end)
    if lo >= hi:
        raise ValueError("start time cannot be equal or greater than end time")
    return lo, hi


def load_location(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin") from None


@dataclass(frozen=True, slots=True)
class TimeInterval:
    times: tuple[Range, ...] | None = None  # minutes of the day, end exclusive
    weekdays: tuple[Range, ...] | None = None  # 0 = Sunday
    days_of_month: tuple[Range, ...] | None = None
    months: tuple[Range, ...] | None = None
    years: tuple[Range, ...] | None = None
    location: str | None = None

    @classmethod
    def from_config(cls, c: Mapping[str, Any]) -> "TimeInterval":
        """From the YAML shape (see config/alerting.py, which validates with these same parsers)."""
        def each(key: str, parse: Any) -> tuple[Range, ...] | None:
            items = c.get(key)
            return None if items is None else tuple(parse(x) for x in items)

        times = c.get("times")
        loc = c.get("location")
        if loc is not None:
            load_location(loc)
        return cls(
            times=None if times is None else tuple(parse_times(t["start_time"], t["end_time"])
                                                   for t in times),
            weekdays=each("weekdays", parse_weekdays),
            days_of_month=each("days_of_month", parse_days_of_month),
            months=each("months", parse_months), years=each("years", parse_years), location=loc)

    def contains(self, ts: float) -> bool:
        tz = ZoneInfo(self.location) if self.location else UTC
        t = datetime.fromtimestamp(ts, tz)
        if self.times is not None:
            minute = t.hour * 60 + t.minute
            if not any(lo <= minute < hi for lo, hi in self.times):
                return False
        if self.days_of_month is not None:
            days = calendar.monthrange(t.year, t.month)[1]
            if not any(_day_in(t.day, lo, hi, days) for lo, hi in self.days_of_month):
                return False
        if self.months is not None and not any(lo <= t.month <= hi for lo, hi in self.months):
            return False
        if self.weekdays is not None:
            weekday = (t.weekday() + 1) % 7  # Python: Monday = 0; Alertmanager: Sunday = 0
            if not any(lo <= weekday <= hi for lo, hi in self.weekdays):
                return False
        if self.years is not None and not any(lo <= t.year <= hi for lo, hi in self.years):
            return False
        return True


def _day_in(day: int, lo: int, hi: int, days: int) -> bool:
    begin = days + lo + 1 if lo < 0 else lo
    end = days + hi + 1 if hi < 0 else hi
    if begin > days:  # a range starting after this month's end
        return False
    begin, end = max(-days, min(begin, days)), max(-days, min(end, days))
    return begin <= day <= end


class TimeIntervals:
    """The named intervals of a configuration: does `name` hold at `ts`?"""

    def __init__(self, named: Mapping[str, Sequence[TimeInterval]] | None = None) -> None:
        self._named = dict(named or {})

    @classmethod
    def from_config(cls, entries: Iterable[Mapping[str, Any]]) -> "TimeIntervals":
        """From `[{name, time_intervals: [...]}, ...]` (time_intervals and mute_time_intervals)."""
        return cls({e["name"]: [TimeInterval.from_config(ti) for ti in e.get("time_intervals") or []]
                    for e in entries})

    def names(self) -> list[str]:
        return list(self._named)

    def holds(self, name: str, ts: float) -> bool:
        return any(ti.contains(ts) for ti in self._named[name])

    def any_holds(self, names: Iterable[str], ts: float) -> bool:
        return any(self.holds(n, ts) for n in names)
