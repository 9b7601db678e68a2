"""Range queries over raw samples or roll-ups, optionally aggregated per step (mean)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from vigil.store.maintenance import (
    ROLLUP_1H_CHUNK_S,
    ROLLUP_1M_CHUNK_S,
    ROLLUP_MARK,
    bucketize,
    get_mark,
    slots_to_buckets,
)
from vigil.store.samples import CHUNK_S, read_raw, wal_for_series
from vigil.store.schema import rollups, sample_chunks

RESOLUTIONS = {"1m": (60.0, ROLLUP_1M_CHUNK_S), "1h": (3600.0, ROLLUP_1H_CHUNK_S)}

# Built once: building a statement costs more than running it on a few rows.
_ROLLUP_ROWS = (sa.select(rollups.c.t0, rollups.c.data)
                .where(rollups.c.resolution == sa.bindparam("res"),
                       rollups.c.series_id == sa.bindparam("sid"),
                       rollups.c.t0 >= sa.bindparam("lo"), rollups.c.t0 <= sa.bindparam("hi"))
                .order_by(rollups.c.t0))
_UNROLLED_HOURS = (sa.select(sample_chunks.c.t0).distinct()
                   .where(sample_chunks.c.series_id == sa.bindparam("sid"), sample_chunks.c.rolled.is_(False),
                          sample_chunks.c.t0 >= sa.bindparam("lo"), sample_chunks.c.t0 < sa.bindparam("hi")))


@dataclass(frozen=True, slots=True)
class RangeResult:
    ts: np.ndarray
    values: np.ndarray
    resolution: str  # raw | 1m | 1h


def choose_resolution(step: float | None, resolution: str) -> str:
    """'auto': the coarsest roll-up that still gives at least one point per step; raw without a step."""
    if resolution != "auto":
        if resolution not in ("raw", "1m", "1h"):
            raise ValueError(f"resolution must be auto, raw, 1m or 1h, got {resolution!r}")
        return resolution
    if step is None:
        return "raw"
    if step >= 3600.0:
        return "1h"
    if step >= 60.0:
        return "1m"
    return "raw"


def read_buckets(conn: sa.Connection, sid: int, res: str, start: float, end: float) -> np.ndarray:
    """Rows (bucket start, count, sum, min, max) of buckets starting in [start, end]: from the stored
    roll-ups where they are complete, computed from raw samples after that."""
    width, span = RESOLUTIONS[res]
    lo = float(np.floor(start / width) * width)
    done = get_mark(conn, ROLLUP_MARK)
    parts = []
    if lo < done:
        rows = conn.execute(_ROLLUP_ROWS, {"res": res, "sid": sid, "lo": float(np.floor(lo / span) * span),
                                           "hi": min(end, done)}).all()
        dirty = _hours_with_unrolled_samples(conn, sid, lo, min(end, done))
        if rows:
            m = slots_to_buckets(np.array([r[0] for r in rows]), width, b"".join(r[1] for r in rows))
            keep = (m[0] >= lo) & (m[0] <= end) & (m[0] < done)
            if dirty:
                keep &= ~np.isin(np.floor(m[0] / CHUNK_S) * CHUNK_S, list(dirty))
            parts.append(m[:, keep])
        for h in sorted(dirty):  # recomputed from raw samples, so late or rewritten samples count
            ts, vals = read_raw(conn, sid, max(lo, h), min(end, h + CHUNK_S))
            inside = ts < h + CHUNK_S
            parts.append(np.array(bucketize(ts[inside], vals[inside], width)))
    if end >= done:
        ts, vals = read_raw(conn, sid, max(lo, done), end)
        parts.append(np.array(bucketize(ts, vals, width)))
    parts = [p for p in parts if p.size]
    return np.concatenate(parts, axis=1) if parts else np.empty((5, 0))


def _hours_with_unrolled_samples(conn: sa.Connection, sid: int, lo: float, hi: float) -> set[float]:
    """Hours before the roll-up mark that received samples since they were rolled (late samples):
    their stored roll-ups are stale until the next maintain()."""
    first_hour = float(np.floor(lo / CHUNK_S) * CHUNK_S)
    found = conn.execute(_UNROLLED_HOURS, {"sid": sid, "lo": first_hour, "hi": hi}).scalars()
    hours = {float(t) for t in found}
    for ts, _vals in wal_for_series(conn, sid, lo, hi):
        late = ts[ts < hi]
        hours.update(np.unique(np.floor(late / CHUNK_S) * CHUNK_S).tolist())
    return hours


def per_step(start: float, step: float, ts: np.ndarray, sums: np.ndarray, counts: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Mean per step bucket [start + k*step, start + (k+1)*step), for the non-empty buckets."""
    if ts.size == 0:
        return ts, sums
    k = np.floor((np.maximum(ts, start) - start) / step).astype(np.int64)
    uniq, inv = np.unique(k, return_inverse=True)
    s = np.bincount(inv, weights=sums)
    n = np.bincount(inv, weights=counts)
    return start + uniq * step, s / n


def query_range(conn: sa.Connection, sid: int | None, start: float, end: float, step: float | None,
                resolution: str) -> RangeResult:
    if step is not None and not step > 0:
        raise ValueError(f"step must be positive, got {step}")
    if end < start:
        raise ValueError(f"end ({end}) is before start ({start})")
    res = choose_resolution(step, resolution)
    if sid is None:
        return RangeResult(np.empty(0), np.empty(0), res)
    if res == "raw":
        ts, vals = read_raw(conn, sid, start, end)
        if step is not None:
            ts, vals = per_step(start, step, ts, vals, np.ones_like(vals))
        return RangeResult(ts, vals, res)
    b = read_buckets(conn, sid, res, start, end)
    if step is None:
        return RangeResult(b[0], b[2] / b[1], res)
    ts, vals = per_step(start, step, b[0], b[2], b[1])
    return RangeResult(ts, vals, res)
