"""Why a query found nothing: which part of it matched nothing, and the closest series that exist.

An empty answer with no reason sends people guessing (a typo in a label, the wrong service name, a
range before the series began). These hints are computed only for empty answers, from a few cheap
series lookups, so a query that finds data pays nothing for them."""

from __future__ import annotations

from typing import Any

from vigil.model import SeriesKey
from vigil.store.faces import SeriesReader

CLOSE = 5  # series suggested at most


def _names(found: list[Any]) -> list[str]:
    return [str(s.key) for s in found[:CLOSE]]


def series_hint(store: SeriesReader, name: str | None, matchers: dict[str, str] | None) -> dict[str, Any]:
    """For a series listing that matched nothing: the first part that matches nothing on its own."""
    if name is not None and not store.list_series(name=name, limit=1):
        by_labels = store.list_series(matchers=matchers, limit=CLOSE) if matchers else []
        return {"reason": f"no series is named {name!r}", "close_series": _names(by_labels)}
    for label, value in (matchers or {}).items():
        if not store.list_series(name=name, matchers={label: value}, limit=1):
            close = store.list_series(name=name, limit=CLOSE) if name is not None else []
            where = f" on {name!r}" if name is not None else ""
            return {"reason": f"no series{where} has {label}={value!r}", "close_series": _names(close)}
    if matchers:
        return {"reason": "each matcher matches some series, but no series matches them all",
                "close_series": _names(store.list_series(name=name, limit=CLOSE))}
    return {"reason": "the store holds no series yet", "close_series": []}


def query_hint(store: SeriesReader, key: SeriesKey, start: float, end: float) -> dict[str, Any]:
    """For a range query that returned no points: the series does not exist, or has no data then."""
    found = store.list_series(name=key.name, matchers=key.label_map, limit=CLOSE + 1)
    exact = next((s for s in found if s.key == key), None)
    if exact is None:
        hint = series_hint(store, key.name, key.label_map)
        if found:  # the selector is a subset of these series' labels
            hint = {"reason": f"no series is exactly {str(key)!r}; these carry more labels",
                    "close_series": _names(found)}
        return hint
    if exact.first_ts is None or exact.last_ts is None:
        return {"reason": "the series exists but holds no samples yet", "close_series": []}
    if end < exact.first_ts or start > exact.last_ts:
        return {"reason": "the series has no samples in this range", "first_ts": exact.first_ts,
                "last_ts": exact.last_ts, "close_series": []}
    return {"reason": "the series has no samples in this range (a gap)", "first_ts": exact.first_ts,
            "last_ts": exact.last_ts, "close_series": []}
