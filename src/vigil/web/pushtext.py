"""Pushed samples in the Prometheus text exposition format (text/plain; version 0.0.4) or
OpenMetrics (application/openmetrics-text): every sample line becomes one sample.

Parsed by hand, line by line, each line length-capped and scanned once: a library parser that
re-slices a line per escaped quote costs seconds on one hostile line. Timestamps are what each
format defines (Prometheus text: integer milliseconds; OpenMetrics: seconds) and are checked as
JSON ones are."""

from __future__ import annotations

import math

import numpy as np

from vigil.model import MAX_SERIES_TEXT_CHARS, SeriesKey, scan_series
from vigil.web.push import MAX_BATCH, Columns, ErrorList, Rejection, too_large
from vigil.web.timeparse import sample_time

# A sample line is a series, a value and a timestamp: nothing longer can be valid.
MAX_LINE_CHARS = MAX_SERIES_TEXT_CHARS + 64
_INT_CHARS = frozenset("0123456789")


def parse_prometheus_text(body: bytes | bytearray, now: float, openmetrics: bool = False) -> Columns | Rejection:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection("body is not UTF-8 text", [{"error": str(exc)}], 1)
    keys: list[SeriesKey] = []
    ts: list[float] = []
    values: list[float] = []
    errors = ErrorList()
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line or line[0] == "#":  # HELP, TYPE, comments, OpenMetrics' EOF
            continue
        try:
            key, t, v = _sample_line(line, now, openmetrics)
        except ValueError as exc:
            errors.add("line", lineno, str(exc))
            continue
        if len(keys) == MAX_BATCH:
            return too_large()
        keys.append(key)
        ts.append(t)
        values.append(v)
    if errors.count:
        return errors.rejection("sample line")
    return Columns(keys, np.asarray(ts, dtype=np.float64), np.asarray(values, dtype=np.float64))


def _sample_line(line: str, now: float, openmetrics: bool) -> tuple[SeriesKey, float, float]:
    if len(line) > MAX_LINE_CHARS:
        raise ValueError(f"line is {len(line):,} characters long; a sample line is at most {MAX_LINE_CHARS:,}")
    if openmetrics:  # an exemplar (`# {...} v`) may follow, so the series' end comes from the scanner
        name, labels, end = scan_series(line)
        key = SeriesKey.of(name, labels)
        rest = line[end:].partition("#")[0]
    else:  # after the series come only numbers: the last '}' closes it, and the text can be cached
        close = line.rfind("}")
        end = close + 1 if close >= 0 else _first_space(line)
        key = SeriesKey.parse(line[:end])
        rest = line[end:]
    fields = rest.split()
    if not 1 <= len(fields) <= 2 or (rest and rest[0] not in " \t"):
        raise ValueError(f"{key}: expected a value and an optional timestamp after the series, separated "
                         "by spaces")
    value = _number(fields[0], "value")
    if not math.isfinite(value):
        raise ValueError(f"{key}: value {fields[0]} is not finite; vigil stores finite numbers only")
    if len(fields) == 1:
        return key, now, value
    if openmetrics:
        return key, sample_time(_number(fields[1], "timestamp"), millis=False, what="timestamp"), value
    return key, sample_time(_millis(fields[1]), millis=True), value


def _first_space(line: str) -> int:
    ends = [i for i in (line.find(" "), line.find("\t")) if i >= 0]
    return min(ends) if ends else len(line)


def _number(text: str, what: str) -> float:
    """A float as the exposition formats write them (NaN, +Inf, -Inf, 1.5e3), without the '_'
    separators Python's float() would also take."""
    if "_" not in text and len(text) <= 64:
        try:
            return float(text)
        except ValueError:
            pass
    raise ValueError(f"{what} {text[:64]!r} is not a number")


def _millis(text: str) -> float:
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not _INT_CHARS.issuperset(digits):
        raise ValueError(f"timestamp {text[:64]!r} must be an integer number of milliseconds since the epoch")
    if len(digits) > 19:
        raise ValueError(f"timestamp {text[:64]!r} is after the year 5138; send milliseconds since the epoch")
    return float(int(text))
