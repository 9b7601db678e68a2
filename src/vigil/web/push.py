"""Parsing of pushed samples (POST /api/v1/samples): a JSON batch (here) or Prometheus text
(vigil.web.pushtext).

A batch is accepted whole or rejected whole: every item is checked before anything is written, and
the answer names each bad item and what is wrong with it. A refusal is returned as a `Rejection`
value, not raised: an exception's traceback would keep the frames, and so the whole parsed body,
alive until the next full garbage collection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from vigil.model import SeriesKey
from vigil.web.timeparse import MAX_TS, sample_time

MAX_BATCH = 1_000_000
MAX_ERRORS_LISTED = 20


@dataclass
class Columns:
    keys: list[SeriesKey]
    ts: np.ndarray
    values: np.ndarray


@dataclass
class Rejection:
    """Why a batch was refused. `count` is every problem found; at most MAX_ERRORS_LISTED are listed."""

    message: str
    errors: list[dict[str, Any]]
    count: int = 0

    def detail(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message, "errors": self.errors}
        if self.count:
            body.update(error_count=self.count, errors_listed=len(self.errors))
        return body


class ErrorList:
    """Collects item errors: counts all of them, keeps the first MAX_ERRORS_LISTED."""

    def __init__(self) -> None:
        self.listed: list[dict[str, Any]] = []
        self.count = 0

    def add(self, where: str, at: int, message: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_ERRORS_LISTED:
            self.listed.append({where: at, "error": message})

    def rejection(self, what: str) -> Rejection:
        shown = "" if self.count <= len(self.listed) else f" (the first {len(self.listed)} are listed)"
        return Rejection(f"batch rejected: {self.count} invalid {what}(s){shown}; nothing was written",
                         self.listed, self.count)


def too_large() -> Rejection:
    return Rejection(f"batch too large: more than {MAX_BATCH:,} samples; send at most {MAX_BATCH:,} "
                     "per request", [], 0)


class BadItem(ValueError):
    """One item of a batch is wrong (its type or its value): reported with its index."""


def parse_json_batch(body: bytes | bytearray, now: float) -> Columns | Rejection:
    """{"samples": [{"series": "name{a=\\"b\\"}", "ts": 1700000000.0, "value": 1.5}, ...]}; instead of
    "series", an item may give "name" and "labels". "ts" is optional (defaults to now)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return Rejection("body is not valid JSON", [{"error": str(exc)}], 1)
    items = doc.get("samples") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return Rejection('expected a JSON object {"samples": [...]}', [], 0)
    if len(items) > MAX_BATCH:
        return too_large()
    keys: list[SeriesKey] = []
    ts = np.empty(len(items), dtype=np.float64)
    values = np.empty(len(items), dtype=np.float64)
    errors = ErrorList()
    cache: dict[str, SeriesKey] = {}
    for i, item in enumerate(items):
        try:
            key, t, v = _parse_item(item, now, cache)
        except ValueError as exc:
            errors.add("index", i, str(exc))
            continue
        keys.append(key)
        ts[i] = t
        values[i] = v
    if errors.count:
        return errors.rejection("item")
    return Columns(keys, ts, values)


def _parse_item(item: Any, now: float, cache: dict[str, SeriesKey]) -> tuple[SeriesKey, float, float]:
    if not isinstance(item, dict):
        raise BadItem("each sample must be an object with series, ts and value")
    series = item.get("series")
    if series is not None:
        if "name" in item or "labels" in item:
            raise ValueError('give either "series" or "name" and "labels", not both')
        if not isinstance(series, str):
            raise BadItem(f'"series" must be text like name{{label="value"}}; found {type(series).__name__}')
        key = cache.get(series)
        if key is None:
            key = cache[series] = SeriesKey.parse(series)
    elif "name" in item:
        labels = item.get("labels") or {}
        if not isinstance(labels, dict):
            raise BadItem("labels must be an object of string values")
        key = SeriesKey.of(item["name"], labels)
    else:
        raise ValueError('missing "series" (or "name" and "labels")')
    if len(item) > 3:
        extra = set(item) - {"series", "name", "labels", "ts", "value"}
        if extra:
            raise ValueError(f"unknown field(s): {', '.join(sorted(extra)[:10])}")
    value = item.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadItem(f'"value" must be a number; found {_short(value)}')
    t = item.get("ts", now)
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise BadItem(f'"ts" must be seconds since the epoch; found {_short(t)}')
    if not 0 <= t <= MAX_TS:  # the common case needs one comparison; sample_time says what is wrong
        sample_time(t, millis=False)
    return key, float(t), float(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."
