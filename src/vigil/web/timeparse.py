"""Times and durations from users: query times (epoch seconds, RFC 3339, 'now', or relative to now
like '-1h'), steps, and the timestamps of pushed samples.

Everything here is scanned by hand in one pass and length-capped: no regular expression meets this
text (a backtracking duration pattern on 20,000 digits costs seconds)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

MAX_TIME_CHARS = 64  # the longest RFC 3339 time with a zone and nanoseconds is 35
# Seconds since the epoch above this (the year 5138) are not times: usually milliseconds sent where
# seconds are expected, or microseconds where milliseconds are.
MAX_TS = 1e11
# Prometheus text timestamps are milliseconds; one below this (before 1973-03-03 when read as ms) is
# almost certainly seconds sent by mistake.
MIN_TEXT_TS_MS = 1e11

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DIGITS = frozenset("0123456789")


def parse_time(text: str, now: float) -> float:
    """Seconds since the epoch from epoch seconds, RFC 3339, 'now' or '-<duration>' (before now)."""
    text = _bounded(text, "time").strip()
    if text == "now":
        return now
    if text.startswith("-"):
        try:
            t = now - parse_duration_text(text[1:])
        except ValueError:
            raise ValueError(f"invalid relative time {text!r}; use e.g. -1h or -7d") from None
        return _in_range(t, text)
    if _is_plain_number(text):
        return _in_range(float(text), text)
    try:
        dt = datetime.fromisoformat(text)  # takes a 'Z' since 3.11
    except ValueError:
        raise ValueError(f"invalid time {text!r}; use epoch seconds, RFC 3339, 'now' or '-1h'") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return _in_range(dt.timestamp(), text)


def parse_step(text: str) -> float:
    """A step: a duration ('60s', '1m', '1h30m', '250ms') or plain seconds ('60'), more than 0."""
    text = _bounded(text, "step")
    try:
        step = parse_duration_text(text)
    except ValueError:
        raise ValueError(f"invalid step {text!r}; use seconds (60) or a duration (60s, 5m, 1h)") from None
    if not step > 0:
        raise ValueError("step must be more than 0s")
    return step


def parse_duration_text(text: str) -> float:
    """'15s', '5m', '1h30m', '2d', '250ms' or a plain number of seconds -> seconds (finite, >= 0)."""
    text = _bounded(text, "duration").strip()
    if _is_plain_number(text):
        total = float(text)
    else:
        total, i, n = 0.0, 0, len(text)
        if n == 0:
            raise ValueError("empty duration")
        while i < n:
            j = _number_end(text, i)
            if j == i:
                raise ValueError(f"expected a number at character {i} of {text!r}")
            unit = "ms" if text.startswith("ms", j) else text[j:j + 1]
            if unit not in _UNIT_SECONDS:
                raise ValueError(f"expected a unit (ms, s, m, h, d, w) at character {j} of {text!r}")
            total += float(text[i:j]) * _UNIT_SECONDS[unit]
            i = j + len(unit)
    if not math.isfinite(total):
        raise ValueError(f"duration {text!r} is too long")
    return total


def sample_time(t: float, *, millis: bool, what: str = "") -> float:
    """A pushed sample's timestamp in seconds, checked alike for JSON (seconds) and text (ms)."""
    unit = "milliseconds" if millis else "seconds"
    what = what or ("timestamp" if millis else '"ts"')
    if not math.isfinite(t):
        raise ValueError(f"{what} must be a finite number of {unit} since the epoch; found {t}")
    if t < 0:
        raise ValueError(f"{what} must not be negative; found {t:g}")
    if millis:
        if t < MIN_TEXT_TS_MS:
            raise ValueError(f"{what} {t:.0f} looks like seconds; the Prometheus text format takes "
                             "milliseconds since the epoch")
        t = t / 1000.0
    if t > MAX_TS:
        if millis:
            raise ValueError(f"{what} {t * 1000:.0f} is after the year 5138; send milliseconds since the epoch")
        raise ValueError(f"{what} {t:.0f} looks like milliseconds; send seconds since the epoch")
    return t


def _bounded(text: str, what: str) -> str:
    if not isinstance(text, str):
        raise ValueError(f"a {what} must be text")  # noqa: TRY004  # callers report ValueError as 400
    if len(text) > MAX_TIME_CHARS:
        raise ValueError(f"a {what} is at most {MAX_TIME_CHARS} characters; found {len(text):,}")
    return text


def _in_range(t: float, text: str) -> float:
    if not (math.isfinite(t) and 0 <= t <= MAX_TS):
        raise ValueError(f"time {text!r} is out of range: use a time between 1970 and the year 5138")
    return t


def _number_end(text: str, i: int) -> int:
    """The end of an unsigned decimal number (digits, optionally '.' and more digits) at i."""
    n, j = len(text), i
    while j < n and text[j] in _DIGITS:
        j += 1
    if j > i and j + 1 < n and text[j] == "." and text[j + 1] in _DIGITS:
        j += 1
        while j < n and text[j] in _DIGITS:
            j += 1
    return j


def _is_plain_number(text: str) -> bool:
    """Unsigned decimal digits with an optional fraction or exponent: what float() takes, minus the
    NaN, Infinity and '_' spellings it also takes."""
    if not text or not (text[0] in _DIGITS or text[0] == "."):
        return False
    return _DIGITS.issuperset(text.replace(".", "").replace("e", "").replace("E", "").replace("+", "")
                              .replace("-", "")) and _float_ok(text)


def _float_ok(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
