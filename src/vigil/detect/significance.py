"""Practical significance: a change too small to matter for its unit is not an anomaly.

A detector judges a value against the series' own history. On a quiet service whose probe latency has sat
at 3 ms for hours, 18 ms is five robust deviations away, and still nobody wants to hear about a 15 ms
change. The policy therefore also asks: is |value - expected| at least the floor for the series' unit?

The unit is read from the series name with Prometheus' naming conventions (`*_seconds`, `*_bytes`,
`*_ratio`, `*_percent`, ...), also the common short forms (`latency_ms`, `latency_s`, `disk_used_gb`),
behind the suffixes vigil and Prometheus add (`_total`, `_sum`, `:rate`) and aggregation words
(`_p99`, `_max`, `_avg`). A series whose unit is not recognised, or is a count (`_count`, `_bucket`,
`requests_total:rate`), has no floor: every anomaly the detector finds stands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

# Unit words -> (unit kind, size of one of them in the kind's base unit).
UNITS: dict[str, tuple[str, float]] = {
    "seconds": ("seconds", 1.0), "second": ("seconds", 1.0), "secs": ("seconds", 1.0), "sec": ("seconds", 1.0),
    "s": ("seconds", 1.0),
    "milliseconds": ("seconds", 1e-3), "millis": ("seconds", 1e-3), "ms": ("seconds", 1e-3),
    "microseconds": ("seconds", 1e-6), "micros": ("seconds", 1e-6), "us": ("seconds", 1e-6),
    "nanoseconds": ("seconds", 1e-9), "nanos": ("seconds", 1e-9), "ns": ("seconds", 1e-9),
    "minutes": ("seconds", 60.0), "hours": ("seconds", 3600.0),
    "bytes": ("bytes", 1.0), "byte": ("bytes", 1.0), "bits": ("bytes", 0.125),
    "kb": ("bytes", 1e3), "kib": ("bytes", 1024.0), "kilobytes": ("bytes", 1e3),
    "mb": ("bytes", 1e6), "mib": ("bytes", 1024.0 ** 2), "megabytes": ("bytes", 1e6),
    "gb": ("bytes", 1e9), "gib": ("bytes", 1024.0 ** 3), "gigabytes": ("bytes", 1e9),
    "tb": ("bytes", 1e12), "tib": ("bytes", 1024.0 ** 4),
    "percent": ("percent", 1.0), "pct": ("percent", 1.0), "percentage": ("percent", 1.0),
    "ratio": ("percent", 100.0), "fraction": ("percent", 100.0),
    "utilization": ("utilization", 1.0), "utilisation": ("utilization", 1.0),
}
# Words after the unit that do not change it: Prometheus/vigil suffixes and aggregations.
TRANSPARENT = frozenset({"total", "sum", "rate", "avg", "mean", "median", "max", "min", "last", "current",
                         "p50", "p75", "p90", "p95", "p99", "p999", "quantile"})


class Floors(Protocol):
    """The configured floors (`services[].detect.min_change`): seconds, bytes, percentage points."""

    @property
    def seconds(self) -> float: ...

    @property
    def bytes(self) -> float: ...

    @property
    def percent(self) -> float: ...


@dataclass(frozen=True)
class DefaultFloors:
    """The defaults (docs/detection.md says why): 50 ms, 1 MiB, 5 percentage points."""

    seconds: float = 0.05
    bytes: float = 1024.0 ** 2
    percent: float = 5.0


def unit_of(name: str) -> tuple[str, float] | None:
    """(unit kind, size of the series' unit in that kind's base unit), or None when it has no known unit.

    >>> unit_of("probe_duration_seconds"), unit_of("latency_ms_p99"), unit_of("http_requests_total:rate")
    (('seconds', 1.0), ('seconds', 0.001), None)
    """
    words = name.lower().replace(":", "_").split("_")
    for word in reversed(words):
        if word in UNITS:
            return UNITS[word]
        if word and word not in TRANSPARENT:  # another word (`count`, `bucket`, `requests`): no unit
            return None
    return None


def floor_for(name: str, value: float, expected: float, floors: Floors) -> float:
    """The smallest change from `expected` that matters for this series, in the series' own unit
    (0 when there is none). A `*_utilization` series is a percentage if either value is above 1,
    else a 0-1 ratio."""
    unit = unit_of(name)
    if unit is None:
        return 0.0
    kind, size = unit
    if kind == "utilization":
        kind, size = ("percent", 1.0) if max(abs(value), abs(expected)) > 1.0 else ("percent", 100.0)
    base = {"seconds": floors.seconds, "bytes": floors.bytes, "percent": floors.percent}[kind]
    return base / size


def is_significant(name: str, value: float, expected: float, floors: Floors | None = None) -> bool:
    """Is a change from `expected` to `value` big enough to matter for the unit of series `name`?
    True when the unit is unknown or either number is not finite (the detector's judgement stands)."""
    if not (math.isfinite(value) and math.isfinite(expected)):
        return True
    floor = floor_for(name, value, expected, floors or DefaultFloors())
    return abs(value - expected) >= floor


def significant(name: str, value: float, detector: Any, floors: Floors | None = None) -> bool:
    """`is_significant` against the expected value behind the detector's last score; True for a detector
    that does not say what it expected."""
    expected = getattr(detector, "expected", None)
    guess = expected() if callable(expected) else None
    return guess is None or is_significant(name, value, guess, floors)
