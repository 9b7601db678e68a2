"""Series identity: SeriesKey (name + sorted labels) <-> a small integer id used in sample blobs."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import orjson
import sqlalchemy as sa

from vigil.model import SeriesKey
from vigil.store.codec import I4
from vigil.store.db import insert_ignoring_duplicates
from vigil.store.schema import series


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    key: SeriesKey
    first_ts: float | None
    last_ts: float | None


def _key_of(name: str, labels_json: str) -> SeriesKey:
    return SeriesKey(name, tuple(sorted(orjson.loads(labels_json).items())))


class SeriesCatalog:
    """Ids are cached for the process (a series never changes id). New series are created inside the
    caller's write transaction; the cache learns them only once that transaction committed, so a
    rolled-back batch leaves no trace."""

    def __init__(self, dialect: str) -> None:
        self._dialect = dialect
        self._ids: dict[SeriesKey, int] = {}
        self._keys: dict[int, SeriesKey] = {}
        self._lock = threading.Lock()

    def cached_ids(self, keys: Sequence[SeriesKey]) -> np.ndarray | None:
        """Ids for keys when all are known (the hot path: a dict lookup per sample)."""
        try:
            return np.fromiter(map(self._ids.__getitem__, keys), dtype=I4, count=len(keys))
        except (KeyError, TypeError):  # unknown (or not a SeriesKey): the slow path decides
            return None

    def ensure(self, conn: sa.Connection, keys: Iterable[SeriesKey]) -> dict[SeriesKey, int]:
        """Create missing series (in conn's transaction); returns the id of every key given."""
        keys = list(keys)
        for i, k in enumerate(keys):
            if not isinstance(k, SeriesKey):
                raise ValueError(f"sample {i}: series must be a SeriesKey, got {type(k).__name__}")
        wanted = set(keys)
        found = {k: self._ids[k] for k in wanted if k in self._ids}
        missing = [k for k in wanted if k not in found]
        if missing:
            rows = [{"key": str(k), "name": k.name, "labels": orjson.dumps(dict(k.labels)).decode()}
                    for k in missing]
            conn.execute(insert_ignoring_duplicates(self._dialect, series), rows)
            by_text = {str(k): k for k in missing}
            for i in range(0, len(rows), 500):
                texts = [r["key"] for r in rows[i:i + 500]]
                for sid, text in conn.execute(sa.select(series.c.id, series.c.key)
                                              .where(series.c.key.in_(texts))):
                    found[by_text[text]] = sid
        return found

    def remember(self, ids: dict[SeriesKey, int]) -> None:
        with self._lock:
            for k, sid in ids.items():
                self._ids[k] = sid
                self._keys[sid] = k

    def id_of(self, conn: sa.Connection, key: SeriesKey) -> int | None:
        sid = self._ids.get(key)
        if sid is None:
            sid = conn.execute(sa.select(series.c.id).where(series.c.key == str(key))).scalar()
            if sid is not None:
                self.remember({key: sid})
        return sid

    def find(self, conn: sa.Connection, name: str | None, matchers: dict[str, str] | None,
             limit: int) -> list[tuple[int, SeriesInfo]]:
        """Series with this name (any if None) whose labels equal every matcher, ordered by key."""
        q = sa.select(series.c.id, series.c.name, series.c.labels, series.c.first_ts, series.c.last_ts)
        if name is not None:
            q = q.where(series.c.name == name)
        if matchers:  # a cheap pre-filter in SQL; the exact label test is below
            for k, v in matchers.items():
                q = q.where(series.c.labels.contains(orjson.dumps({k: v}).decode()[1:-1]))
        out: list[tuple[int, SeriesInfo]] = []
        for sid, nm, labels, first, last in conn.execute(q.order_by(series.c.key)):
            key = _key_of(nm, labels)
            if matchers and any(key.label_map.get(k) != v for k, v in matchers.items()):
                continue
            out.append((sid, SeriesInfo(key, first, last)))
            if len(out) >= limit:
                break
        return out
