"""Parsing of pushed samples (POST /api/v1/samples): a JSON batch or Prometheus text.

A batch is accepted whole or rejected whole: every item is checked before anything is written, and
the error names the item and what is wrong with it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from vigil.model import SeriesKey

MAX_BATCH = 1_000_000
MAX_ERRORS_REPORTED = 20


@dataclass
class PushError(Exception):
    message: str
    errors: list[dict[str, Any]]


@dataclass
class Columns:
    keys: list[SeriesKey]
    ts: np.ndarray
    values: np.ndarray


def parse_json_batch(body: bytes, now: float) -> Columns:
    """{"samples": [{"series": "name{a=\\"b\\"}", "ts": 1700000000.0, "value": 1.5}, ...]}; instead of
    "series", an item may give "name" and "labels". "ts" is optional (defaults to now)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PushError("body is not valid JSON", [{"error": str(exc)}]) from None
    items = doc.get("samples") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise PushError('expected a JSON object {"samples": [...]}', [])
    if len(items) > MAX_BATCH:
        raise PushError(f"batch too large: {len(items)} samples, at most {MAX_BATCH}", [])
    keys: list[SeriesKey] = []
    ts = np.empty(len(items), dtype=np.float64)
    values = np.empty(len(items), dtype=np.float64)
    errors: list[dict[str, Any]] = []
    cache: dict[str, SeriesKey] = {}
    for i, item in enumerate(items):
        try:
            key, t, v = _parse_item(item, now, cache)
        except ValueError as exc:
            if len(errors) < MAX_ERRORS_REPORTED:
                errors.append({"index": i, "error": str(exc)})
            else:
                errors.append({"index": i, "error": "..."})
                break
            continue
        keys.append(key)
        ts[i] = t
        values[i] = v
    if errors:
        raise PushError(f"batch rejected: {len(errors)} invalid item(s); nothing was written", errors)
    return Columns(keys, ts, values)


def _parse_item(item: Any, now: float, cache: dict[str, SeriesKey]) -> tuple[SeriesKey, float, float]:
    if not isinstance(item, dict):
        raise ValueError("each sample must be an object with series, ts and value")
    series = item.get("series")
    if isinstance(series, str):
        key = cache.get(series)
        if key is None:
            key = cache[series] = SeriesKey.parse(series)
    elif "name" in item:
        labels = item.get("labels") or {}
        if not isinstance(labels, dict):
            raise ValueError("labels must be an object of string values")
        key = SeriesKey.of(str(item["name"]), labels)
    else:
        raise ValueError('missing "series" (or "name" and "labels")')
    extra = set(item) - {"series", "name", "labels", "ts", "value"}
    if extra:
        raise ValueError(f"unknown field(s): {', '.join(sorted(extra))}")
    value = item.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f'"value" must be a number; found {value!r}')
    if not math.isfinite(value):
        raise ValueError(f'"value" must be finite; found {value!r}')
    t = item.get("ts", now)
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise ValueError(f'"ts" must be seconds since the epoch; found {t!r}')
    if t > 1e11:  # milliseconds are a common mistake: say so rather than store the year 50000
        raise ValueError(f'"ts" {t} looks like milliseconds; send seconds since the epoch')
    if t < 0:
        raise ValueError(f'"ts" must not be negative; found {t}')
    return key, float(t), float(value)


def parse_prometheus_text(body: bytes, now: float) -> Columns:
    """Prometheus text exposition: every sample line becomes a sample (timestamps in ms, as the
    format defines; without one, now)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = body.decode("utf-8")
        families = list(text_string_to_metric_families(text))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PushError("invalid Prometheus text exposition", [{"error": str(exc)}]) from None
    keys: list[SeriesKey] = []
    ts: list[float] = []
    values: list[float] = []
    errors: list[dict[str, Any]] = []
    for fam in families:
        for s in fam.samples:
            try:
                if not math.isfinite(s.value):
                    raise ValueError(f"value {s.value} is not finite")
                keys.append(SeriesKey.of(s.name, s.labels))
            except ValueError as exc:
                errors.append({"series": s.name, "error": str(exc)})
                continue
            t = s.timestamp
            ts.append(float(t) if t is not None else now)
            values.append(float(s.value))
    if errors:
        raise PushError(f"batch rejected: {len(errors)} invalid sample(s); nothing was written",
                        errors[:MAX_ERRORS_REPORTED])
    return Columns(keys, np.asarray(ts, dtype=np.float64), np.asarray(values, dtype=np.float64))
