"""Samples: the columnar write-ahead (hot path) and reading one series back as raw arrays.

A write is one row in `sample_wal` holding the whole batch as three blobs (series ids, ts, values):
one INSERT per scrape instead of one per sample. Maintenance later moves those rows into per-series
hour chunks (`sample_chunks`); a read merges the chunks with whatever is still in the write-ahead,
inside one read transaction, so it never misses or doubles a sample while compaction runs."""

from __future__ import annotations

import threading
from collections.abc import Collection

import numpy as np
import sqlalchemy as sa

from vigil.store.codec import from_f8, from_i4, raw_f8, raw_i4, unpack
from vigil.store.schema import sample_chunks, sample_wal

CHUNK_S = 3600.0  # a chunk holds one series for one hour


def chunk_arrays(rolled: bool, ts_b: bytes, vals_b: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Parts of an open hour keep raw bytes (compaction stays cheap); merged chunks are packed."""
    if rolled:
        return unpack(ts_b), unpack(vals_b)
    return from_f8(ts_b), from_f8(vals_b)


def wal_row(ids: np.ndarray, ts: np.ndarray, values: np.ndarray) -> dict:
    return {"n": int(ids.size), "ts_min": float(ts.min()), "ts_max": float(ts.max()),
            "series_ids": raw_i4(ids), "ts": raw_f8(ts), "vals": raw_f8(values)}


def validate_batch(n_keys: int, ts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    try:
        ts = np.ascontiguousarray(ts, dtype=np.float64).reshape(-1)
        values = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"timestamps and values must be numbers: {exc}") from None
    if ts.size != n_keys or values.size != n_keys:
        raise ValueError(f"batch has {n_keys} series keys, {ts.size} timestamps and {values.size} values")
    bad = np.flatnonzero(~np.isfinite(ts))
    if bad.size:
        raise ValueError(f"sample {int(bad[0])}: timestamp must be a finite number, got {ts[bad[0]]}")
    return ts, values


def _sorted_unique(ts: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort by time (stable: later writes come later) and keep the last write for a repeated ts."""
    if ts.size > 1 and not bool(np.all(ts[1:] > ts[:-1])):
        order = np.argsort(ts, kind="stable")
        ts, vals = ts[order], vals[order]
        keep = np.append(ts[1:] != ts[:-1], True)
        ts, vals = ts[keep], vals[keep]
    return ts, vals


def merge_parts(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    if not parts:
        return np.empty(0), np.empty(0)
    if len(parts) == 1:
        return _sorted_unique(*parts[0])
    return _sorted_unique(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))


# Statements of the read path, built once (building costs more than running them on a few rows).
_WAL_ROWS = (sa.select(sample_wal.c.series_ids, sample_wal.c.ts, sample_wal.c.vals)
             .where(sample_wal.c.ts_max >= sa.bindparam("start"), sample_wal.c.ts_min <= sa.bindparam("end"))
             .order_by(sample_wal.c.id))
_CHUNKS = (sa.select(sample_chunks.c.rolled, sample_chunks.c.ts, sample_chunks.c.vals, sample_chunks.c.ts_min,
                     sample_chunks.c.ts_max)
           .where(sample_chunks.c.series_id == sa.bindparam("sid"), sample_chunks.c.t0 >= sa.bindparam("lo"),
                  sample_chunks.c.t0 <= sa.bindparam("hi"))
           .order_by(sample_chunks.c.t0, sample_chunks.c.id))


def wal_for_series(conn: sa.Connection, sid: int, start: float, end: float,
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
    rows = conn.execute(_WAL_ROWS, {"start": float(start), "end": float(end)})
    parts = []
    for ids_b, ts_b, vals_b in rows:
        mask = from_i4(ids_b) == sid
        if mask.any():
            parts.append((from_f8(ts_b)[mask], from_f8(vals_b)[mask]))
    return parts


def read_raw(conn: sa.Connection, sid: int, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    """All raw samples of one series with start <= ts <= end, time-ordered, one per timestamp."""
    rows = conn.execute(_CHUNKS, {"sid": sid, "lo": float(np.floor(start / CHUNK_S) * CHUNK_S),
                                  "hi": float(end)})
    parts = []
    for rolled, ts_b, vals_b, lo, hi in rows:
        ts, vals = chunk_arrays(rolled, ts_b, vals_b)
        if lo < start or hi > end:
            m = (ts >= start) & (ts <= end)
            ts, vals = ts[m], vals[m]
        parts.append((ts, vals))
    for ts, vals in wal_for_series(conn, sid, start, end):
        m = (ts >= start) & (ts <= end)
        parts.append((ts[m], vals[m]))
    return merge_parts(parts)


def latest(conn: sa.Connection, sid: int) -> tuple[float, float] | None:
    """The sample with the greatest timestamp (the last one written, if several share it)."""
    c = sample_chunks.c
    top = conn.execute(sa.select(sa.func.max(c.t0)).where(c.series_id == sid)).scalar()
    best: tuple[float, float] | None = None
    if top is not None:
        parts = [chunk_arrays(r, t, v) for r, t, v in conn.execute(
            sa.select(c.rolled, c.ts, c.vals).where(c.series_id == sid, c.t0 == top).order_by(c.id))]
        ts, vals = merge_parts(parts)
        if ts.size:
            best = (float(ts[-1]), float(vals[-1]))
    floor = best[0] if best else -np.inf
    wal = wal_for_series(conn, sid, floor, np.inf)
    if wal:
        ts, vals = merge_parts(wal)
        if ts.size and (best is None or ts[-1] >= best[0]):
            best = (float(ts[-1]), float(vals[-1]))
    return best


def recent_extents(conn: sa.Connection, wal: WalExtents | None = None,
                   sids: Collection[int] | None = None) -> dict[int, tuple[float, float]]:
    """First and last timestamp per series (those in `sids`, or all) of data not yet rolled up (the
    series table's extents are updated when an hour is rolled): open-hour parts plus the write-ahead."""
    c = sample_chunks.c
    q = sa.select(c.series_id, sa.func.min(c.ts_min), sa.func.max(c.ts_max)).where(c.rolled.is_(False))
    few = sids is not None and len(sids) <= _FEW_SERIES
    if few:
        q = q.where(c.series_id.in_(sorted(sids)))  # type: ignore[arg-type]  # few is only true with sids
    out: dict[int, tuple[float, float]] = {sid: (lo, hi) for sid, lo, hi in conn.execute(q.group_by(c.series_id))}
    in_wal = wal.get(conn) if wal is not None else _wal_extents(conn)
    for sid in (sids if few else in_wal):  # type: ignore[union-attr]
        if sid in in_wal:
            lo, hi = in_wal[sid]
            a, b = out.get(sid, (lo, hi))
            out[sid] = (min(a, lo), max(b, hi))
    return out


_FEW_SERIES = 500  # asked for this many series or fewer, only theirs are looked up


def _wal_extents(conn: sa.Connection) -> dict[int, tuple[float, float]]:
    rows = conn.execute(sa.select(sample_wal.c.series_ids, sample_wal.c.ts)).all()
    if not rows:
        return {}
    # One decode of all rows at once and a sort, not two arrays per row and ufunc.at (~8x slower).
    ids, ts = from_i4(b"".join(r[0] for r in rows)), from_f8(b"".join(r[1] for r in rows))
    order = np.lexsort((ts, ids))
    ids, ts = ids[order], ts[order]
    cut = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    first, last = np.r_[0, cut], np.r_[cut, ids.size] - 1
    return {s: (a, b) for s, a, b in zip(ids[first].tolist(), ts[first].tolist(), ts[last].tolist())}


# What identifies the write-ahead's rows: they are only appended (ids grow) and deleted by compaction
# (the count falls), never changed in place; the newest sample time and the sample count tell apart
# even a write-ahead emptied and refilled up to the same ids.
_WAL_STATE = sa.select(sa.func.count(), sa.func.min(sample_wal.c.id), sa.func.max(sample_wal.c.id),
                       sa.func.max(sample_wal.c.ts_max), sa.func.sum(sample_wal.c.n))


class WalExtents:
    """The write-ahead's extents per series, decoded once per state of the write-ahead and read by
    any thread. `list_series` needs them on every call, and a root-cause ranking calls it once per
    service: decoding every write-ahead row each time made one ranking over 1,000 services cost
    ~11 s of CPU (5,000 rows), competing with the API for the process. Checking the state is one
    aggregate query."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: tuple[object, ...] | None = None
        self._extents: dict[int, tuple[float, float]] = {}

    def get(self, conn: sa.Connection) -> dict[int, tuple[float, float]]:
        """The extents as this connection's transaction sees the write-ahead (do not change the dict)."""
        state = tuple(conn.execute(_WAL_STATE).one())
        with self._lock:
            if state == self._state:
                return self._extents
        extents = _wal_extents(conn)
        with self._lock:
            self._state, self._extents = state, extents
        return extents
