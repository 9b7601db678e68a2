"""Maintenance: compaction (write-ahead -> hour chunks), roll-ups of closed hours, retention.

Each step is idempotent and runs in its own short transaction, so `maintain` can run every minute
and be interrupted anywhere: a step either happened or will happen next time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from vigil.store.codec import from_f8, from_i4, pack, raw_f8
from vigil.store.samples import CHUNK_S, chunk_arrays
from vigil.store.schema import probe_results, rollups, sample_chunks, sample_wal, series, store_marks

ROLLUP_1M_CHUNK_S = 3600.0  # 60 one-minute buckets per row
ROLLUP_1H_CHUNK_S = 86400.0  # 24 one-hour buckets per row
CLOSE_GRACE_S = 60.0  # an hour is closed (and rolled up) this long after it ends
# Compact once the write-ahead holds this many samples, or its oldest sample is this old. Each
# compaction writes one row per series touched, so rarer compactions mean fewer, larger parts;
# more frequent ones mean less write-ahead for a read to scan.
COMPACT_MIN_SAMPLES = 500_000
COMPACT_MAX_AGE_S = 900.0
ROLLUP_MARK = "rollup_until"  # roll-ups are complete for every hour ending at or before this
RETENTION_MARK = "retention_at"  # the hour retention last ran in


@dataclass(frozen=True)
class Policy:
    raw_s: float = 14 * 86400.0
    rollup_1m_s: float = 90 * 86400.0
    rollup_1h_s: float = 400 * 86400.0


def wal_stats(conn: sa.Connection) -> tuple[int, float | None]:
    n, oldest = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(sample_wal.c.n), 0),
                                       sa.func.min(sample_wal.c.ts_min))).one()
    return int(n), oldest


def closed_until(now: float) -> float:
    return float(np.floor((now - CLOSE_GRACE_S) / CHUNK_S) * CHUNK_S)


def should_compact(conn: sa.Connection, now: float) -> bool:
    n, oldest = wal_stats(conn)
    return n > 0 and (n >= COMPACT_MIN_SAMPLES or oldest < now - COMPACT_MAX_AGE_S  # type: ignore[operator]
                      or oldest < closed_until(now))  # type: ignore[operator]


def compact(conn: sa.Connection) -> int:
    """Move every write-ahead row into per-series hour chunks (new, unrolled parts)."""
    rows = conn.execute(sa.select(sample_wal.c.id, sample_wal.c.series_ids, sample_wal.c.ts,
                                  sample_wal.c.vals).order_by(sample_wal.c.id)).all()
    if not rows:
        return 0
    sid = np.concatenate([from_i4(r[1]) for r in rows])
    ts = np.concatenate([from_f8(r[2]) for r in rows])
    vals = np.concatenate([from_f8(r[3]) for r in rows])
    t0 = np.floor(ts / CHUNK_S) * CHUNK_S
    order = np.lexsort((ts, t0, sid))  # stable: equal timestamps keep write order
    sid, ts, vals, t0 = sid[order], ts[order], vals[order], t0[order]
    cut = np.flatnonzero((sid[1:] != sid[:-1]) | (t0[1:] != t0[:-1])) + 1
    starts, ends = np.r_[0, cut], np.r_[cut, sid.size]
    chunks = [{"series_id": int(sid[a]), "t0": float(t0[a]), "n": int(b - a), "ts_min": float(ts[a]),
               "ts_max": float(ts[b - 1]), "rolled": False, "ts": raw_f8(ts[a:b]), "vals": raw_f8(vals[a:b])}
              for a, b in zip(starts, ends)]
    conn.execute(sa.insert(sample_chunks), chunks)
    ids = [r[0] for r in rows]
    for i in range(0, len(ids), 500):  # by id, not by range: on PostgreSQL ids commit out of order
        conn.execute(sa.delete(sample_wal).where(sample_wal.c.id.in_(ids[i:i + 500])))
    return int(sid.size)


def _widen_series_extents(conn: sa.Connection, extents: list[tuple[int, float, float]]) -> None:
    c = series.c
    stmt = (sa.update(series).where(c.id == sa.bindparam("sid")).values(
        first_ts=sa.case((c.first_ts.is_(None) | (c.first_ts > sa.bindparam("lo")), sa.bindparam("lo")),
                         else_=c.first_ts),
        last_ts=sa.case((c.last_ts.is_(None) | (c.last_ts < sa.bindparam("hi")), sa.bindparam("hi")),
                        else_=c.last_ts)))
    conn.execute(stmt, [{"sid": s, "lo": a, "hi": b} for s, a, b in extents])


def pending_hours(conn: sa.Connection, until: float) -> list[float]:
    c = sample_chunks.c
    q = (sa.select(c.t0).where(c.rolled.is_(False), c.t0 <= until - CHUNK_S).distinct().order_by(c.t0))
    return [float(t) for t in conn.execute(q).scalars()]


def roll_hour(conn: sa.Connection, t0: float) -> int:
    """Merge the parts of every series with new data in hour t0 into one chunk, and (re)compute
    that hour's 1-minute buckets and its 1-hour bucket. Vectorised across series: the per-series
    Python work is only building the rows. Returns the number of series rolled."""
    c = sample_chunks.c
    touched = sa.select(c.series_id).where(c.t0 == t0, c.rolled.is_(False)).distinct().scalar_subquery()
    rows = conn.execute(sa.select(c.id, c.series_id, c.rolled, c.ts, c.vals)
                        .where(c.t0 == t0, c.series_id.in_(touched)).order_by(c.series_id, c.id)).all()
    rows = _drop_parts_whose_raw_expired(conn, t0, list(rows))
    if not rows:
        return 0
    arrays = [chunk_arrays(rolled, ts_b, vals_b) for _id, _sid, rolled, ts_b, vals_b in rows]
    sid = np.repeat(np.array([r[1] for r in rows], dtype=np.int64), [a[0].size for a in arrays])
    ts = np.concatenate([a[0] for a in arrays])
    vals = np.concatenate([a[1] for a in arrays])
    order = np.lexsort((ts, sid))  # stable: for a repeated (series, ts) the last write ends up last
    sid, ts, vals = sid[order], ts[order], vals[order]
    keep = np.append((sid[1:] != sid[:-1]) | (ts[1:] != ts[:-1]), True)
    sid, ts, vals = sid[keep], ts[keep], vals[keep]
    first = np.r_[0, np.flatnonzero(sid[1:] != sid[:-1]) + 1]
    ends = np.r_[first[1:], sid.size]
    uniq = sid[first]
    # 1-minute buckets: a (series, minute) grid; samples are sorted by (series, ts), so each cell's
    # samples are contiguous and reduceat gives min/max.
    cell = np.repeat(np.arange(uniq.size), ends - first) * 60 + ((ts - t0) // 60).astype(np.int64)
    minute = summarize(cell, vals, uniq.size * 60).reshape(4, uniq.size, 60).transpose(1, 0, 2)
    hour = np.stack([(ends - first).astype(np.float64), np.add.reduceat(vals, first),
                     np.minimum.reduceat(vals, first), np.maximum.reduceat(vals, first)], axis=1)
    merged, minute_rows = [], []
    for i, (a, b) in enumerate(zip(first, ends)):
        s = int(uniq[i])
        merged.append({"series_id": s, "t0": t0, "n": int(b - a), "ts_min": float(ts[a]),
                       "ts_max": float(ts[b - 1]), "rolled": True,
                       "ts": pack(ts[a:b]), "vals": pack(vals[a:b])})
        minute_rows.append({"resolution": "1m", "series_id": s, "t0": t0, "data": raw_f8(minute[i])})
    ids = [r[0] for r in rows]
    for i in range(0, len(ids), 5000):
        conn.execute(sa.delete(sample_chunks).where(c.id.in_(ids[i:i + 5000])))
    conn.execute(sa.insert(sample_chunks), merged)
    _replace_rollups(conn, "1m", t0, minute_rows)
    _merge_hour_into_days(conn, t0, dict(zip(uniq.tolist(), hour)))
    _widen_series_extents(conn, [(int(uniq[i]), float(ts[a]), float(ts[b - 1]))
                                 for i, (a, b) in enumerate(zip(first, ends))])
    return len(merged)


def _drop_parts_whose_raw_expired(conn: sa.Connection, t0: float, rows: list) -> list:
    """Late samples for an hour whose raw data retention already dropped (its roll-ups exist, its
    merged chunk does not) cannot be merged correctly: re-rolling would replace the hour's roll-ups
    with the late samples alone. They are dropped, as retention would have dropped them."""
    r = rollups.c
    series_ids = sorted({row[1] for row in rows})
    rolled_up: set[int] = set()
    for i in range(0, len(series_ids), 5000):
        rolled_up.update(conn.execute(sa.select(r.series_id).where(
            r.resolution == "1m", r.t0 == t0, r.series_id.in_(series_ids[i:i + 5000]))).scalars())
    has_chunk = {row[1] for row in rows if row[2]}
    expired = rolled_up - has_chunk
    if not expired:
        return rows
    drop = [row[0] for row in rows if row[1] in expired]
    for i in range(0, len(drop), 5000):
        conn.execute(sa.delete(sample_chunks).where(sample_chunks.c.id.in_(drop[i:i + 5000])))
    return [row for row in rows if row[1] not in expired]


def summarize(cell: np.ndarray, vals: np.ndarray, size: int) -> np.ndarray:
    """(count, sum, min, max) per cell 0..size-1 for values grouped by non-decreasing cell index;
    empty cells have count 0 (and 0 elsewhere)."""
    out = np.zeros((4, size))
    if cell.size == 0:
        return out
    start = np.r_[0, np.flatnonzero(cell[1:] != cell[:-1]) + 1]
    at = cell[start]
    out[0, at] = np.diff(np.r_[start, cell.size])
    out[1, at] = np.add.reduceat(vals, start)
    out[2, at] = np.minimum.reduceat(vals, start)
    out[3, at] = np.maximum.reduceat(vals, start)
    return out


def bucketize(ts: np.ndarray, vals: np.ndarray, width: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Time-ordered samples -> (bucket start, count, sum, min, max) per non-empty bucket."""
    if ts.size == 0:
        e = np.empty(0)
        return e, e, e, e, e
    b = np.floor(ts / width) * width
    first = np.r_[0, np.flatnonzero(b[1:] != b[:-1]) + 1]
    cnt = np.diff(np.r_[first, ts.size]).astype(np.float64)
    return (b[first], cnt, np.add.reduceat(vals, first), np.minimum.reduceat(vals, first),
            np.maximum.reduceat(vals, first))


def slots_to_buckets(t0: np.ndarray, width: float, data: bytes) -> np.ndarray:
    """Stored roll-up rows starting at t0 (each: count, sum, min, max per fixed slot), their blobs
    joined -> rows (start, count, sum, min, max) of the non-empty buckets, in time order."""
    grid = from_f8(data).reshape(t0.size, 4, -1)
    starts = (t0[:, None] + width * np.arange(grid.shape[2])).ravel()
    flat = grid.transpose(1, 0, 2).reshape(4, -1)
    full = flat[0] > 0
    return np.vstack([starts[full], flat[:, full]])


def _replace_rollups(conn: sa.Connection, res: str, t0: float, rows: list[dict]) -> None:
    r = rollups.c
    sids = [row["series_id"] for row in rows]
    for i in range(0, len(sids), 5000):
        conn.execute(sa.delete(rollups).where(r.resolution == res, r.t0 == t0,
                                              r.series_id.in_(sids[i:i + 5000])))
    if rows:
        conn.execute(sa.insert(rollups), rows)


def _merge_hour_into_days(conn: sa.Connection, t0: float, buckets: dict[int, np.ndarray]) -> None:
    """Set slot `hour of day` in each series' day row of 1-hour roll-ups (read, modify, write)."""
    day = float(np.floor(t0 / ROLLUP_1H_CHUNK_S) * ROLLUP_1H_CHUNK_S)
    slot = int((t0 - day) // 3600)
    r = rollups.c
    grids: dict[int, np.ndarray] = {}
    sids = list(buckets)
    for i in range(0, len(sids), 5000):
        for sid, data in conn.execute(sa.select(r.series_id, r.data).where(
                r.resolution == "1h", r.t0 == day, r.series_id.in_(sids[i:i + 5000]))):
            grids[sid] = from_f8(data).reshape(4, 24).copy()
    rows = []
    for sid, bucket in buckets.items():
        grid = grids.get(sid)
        if grid is None:
            grid = np.zeros((4, 24))
        grid[:, slot] = bucket
        rows.append({"resolution": "1h", "series_id": sid, "t0": day, "data": raw_f8(grid)})
    _replace_rollups(conn, "1h", day, rows)


_MARK = sa.select(store_marks.c.value).where(store_marks.c.name == sa.bindparam("name"))


def get_mark(conn: sa.Connection, name: str, default: float = 0.0) -> float:
    v = conn.execute(_MARK, {"name": name}).scalar()
    return default if v is None else float(v)


def set_mark(conn: sa.Connection, name: str, value: float) -> None:
    if conn.execute(sa.update(store_marks).where(store_marks.c.name == name)
                    .values(value=value)).rowcount == 0:
        conn.execute(sa.insert(store_marks).values(name=name, value=value))


def apply_retention(conn: sa.Connection, now: float, policy: Policy) -> dict[str, int]:
    """Drop raw chunks (only rolled ones), roll-ups and probe results older than their retention.
    Chunks are hours, so this runs at most once per hour."""
    hour = float(np.floor(now / CHUNK_S))
    if get_mark(conn, RETENTION_MARK, -1.0) >= hour:
        return {}
    set_mark(conn, RETENTION_MARK, hour)
    c, r = sample_chunks.c, rollups.c
    raw_cut = now - policy.raw_s
    dropped_raw = conn.execute(sa.delete(sample_chunks).where(
        c.rolled.is_(True), c.t0 <= raw_cut - CHUNK_S)).rowcount
    dropped_1m = conn.execute(sa.delete(rollups).where(
        r.resolution == "1m", r.t0 <= now - policy.rollup_1m_s - ROLLUP_1M_CHUNK_S)).rowcount
    dropped_1h = conn.execute(sa.delete(rollups).where(
        r.resolution == "1h", r.t0 <= now - policy.rollup_1h_s - ROLLUP_1H_CHUNK_S)).rowcount
    dropped_probes = conn.execute(sa.delete(probe_results).where(probe_results.c.ts < raw_cut)).rowcount
    return {"dropped_raw_chunks": dropped_raw, "dropped_1m_rollups": dropped_1m,
            "dropped_1h_rollups": dropped_1h, "dropped_probe_results": dropped_probes}
