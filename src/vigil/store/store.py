"""The Store: vigil's one door to persistence. It owns the engines and one write lock, and hands
each call to the module that knows that kind of data. All writes are serialised (one writer, as
SQLite wants); reads use their own connections and never wait for a write."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa

from vigil.incidents.model import Incident, Member, TimelineEntry
from vigil.model import Alert, Decision, Event, Health, ProbeResult, Sample, SeriesKey, Signal
from vigil.store import actions as action_rows
from vigil.store import api_keys as key_rows
from vigil.store import audit as audit_rows
from vigil.store import incidents as incident_rows
from vigil.store import maintenance as mt
from vigil.store import outbox as ob
from vigil.store import records, samples
from vigil.store import silences as silence_rows
from vigil.store import windows as window_rows
from vigil.store.db import Engines, connect, migrate, try_maintenance_lock, unavailable
from vigil.store.query import RangeResult, query_range
from vigil.store.records import ServiceRecord
from vigil.store.schema import sample_wal
from vigil.store.series import SeriesCatalog, SeriesInfo

# The write-ahead is compacted from inside a write once it holds this many samples, so it stays
# bounded even if maintain() is not called (maintain normally compacts long before).
WAL_HARD_LIMIT = 2_000_000


class Store:
    def __init__(self, engines: Engines, policy: mt.Policy) -> None:
        self._db = engines
        self._policy = policy
        self._series = SeriesCatalog(engines.dialect)
        self._wal_extents = samples.WalExtents()
        self._write_lock = threading.RLock()
        with self._db.read.connect() as conn:
            self._wal_samples, self._wal_oldest = mt.wal_stats(conn)
        # What this process knows is done, so a maintain() with nothing to do costs no queries.
        self._rolled_until = -np.inf
        self._retention_hour = -np.inf

    @property
    def dialect(self) -> str:
        return self._db.dialect

    def close(self) -> None:
        with self._write_lock:
            self._db.dispose()

    def ping(self) -> bool:
        try:
            with self._db.read.connect() as conn:
                return conn.execute(sa.text("SELECT 1")).scalar() == 1
        except Exception:
            return False

    # ------------------------------------------------------------------------------------- samples

    def write_samples(self, items: Sequence[Sample]) -> int:
        """Write samples atomically: all of them or (on any bad item) none."""
        n = len(items)
        keys = [s.key for s in items]
        try:
            ts = np.fromiter((s.ts for s in items), dtype=np.float64, count=n)
            values = np.fromiter((s.value for s in items), dtype=np.float64, count=n)
        except (TypeError, ValueError):
            for i, s in enumerate(items):  # say which item is wrong
                for field in ("ts", "value"):
                    try:
                        float(getattr(s, field))
                    except (TypeError, ValueError):
                        raise ValueError(f"sample {i}: {field} must be a number, got "
                                         f"{getattr(s, field)!r}") from None
            raise
        return self.write_batch(keys, ts, values)

    def write_batch(self, keys: Sequence[SeriesKey], ts: np.ndarray, values: np.ndarray) -> int:
        """Columnar write: row i is (keys[i], ts[i], values[i]). Atomic, and durable on return
        (committed; SQLite synchronous=NORMAL: survives a crash of vigil, not of the OS)."""
        n = len(keys)
        ts, values = samples.validate_batch(n, ts, values)
        if n == 0:
            return 0
        with self._write_lock:
            ids = self._series.cached_ids(keys)
            created: dict[SeriesKey, int] = {}
            with self._db.write.begin() as conn:
                if ids is None:
                    created = self._series.ensure(conn, keys)
                    ids = np.fromiter(map(created.__getitem__, keys), dtype=np.int32, count=n)
                row = samples.wal_row(ids, ts, values)
                conn.execute(sa.insert(sample_wal), row)
            self._series.remember(created)
            self._wal_samples += n
            if self._wal_oldest is None or row["ts_min"] < self._wal_oldest:
                self._wal_oldest = row["ts_min"]
            if self._wal_samples >= WAL_HARD_LIMIT:
                self._compact()
        return n

    def list_series(self, name: str | None = None, matchers: dict[str, str] | None = None,
                    limit: int = 10_000) -> list[SeriesInfo]:
        with self._db.read.begin() as conn:
            found = self._series.find(conn, name, matchers, limit)
            recent = samples.recent_extents(conn, self._wal_extents, [sid for sid, _ in found]) if found else {}
        out = []
        for sid, info in found:
            if sid in recent:
                lo, hi = recent[sid]
                info = SeriesInfo(info.key, lo if info.first_ts is None else min(lo, info.first_ts),
                                  hi if info.last_ts is None else max(hi, info.last_ts))
            out.append(info)
        return out

    def query_range(self, key: SeriesKey, start: float, end: float, step: float | None = None,
                    resolution: str = "auto") -> RangeResult:
        with self._db.read.begin() as conn:
            return query_range(conn, self._series.id_of(conn, key), float(start), float(end), step,
                               resolution)

    def latest(self, key: SeriesKey) -> tuple[float, float] | None:
        with self._db.read.begin() as conn:
            sid = self._series.id_of(conn, key)
            return None if sid is None else samples.latest(conn, sid)

    # --------------------------------------------------------------------------------- maintenance

    def _compact(self) -> int:
        with self._db.write.begin() as conn:
            n = mt.compact(conn)
        self._wal_samples, self._wal_oldest = 0, None
        return n

    def _idle(self, now: float) -> bool:
        """True when this process knows maintain(now) has nothing to do (no query needed)."""
        until = mt.closed_until(now)
        wal_ok = self._wal_oldest is None or (
            self._wal_samples < mt.COMPACT_MIN_SAMPLES and self._wal_oldest >= until
            and self._wal_oldest >= now - mt.COMPACT_MAX_AGE_S)
        return wal_ok and until <= self._rolled_until and now // mt.CHUNK_S <= self._retention_hour

    def maintain(self, now: float) -> dict[str, Any]:
        """Compaction, roll-ups of closed hours, retention. Idempotent; run it every minute."""
        started = time.perf_counter()
        report: dict[str, Any] = {"compacted_samples": 0, "rolled_hours": 0, "rolled_chunks": 0}
        with self._write_lock:
            if self._idle(now):
                return {**report, "seconds": round(time.perf_counter() - started, 4)}
            with self._db.write.begin() as conn:
                if not try_maintenance_lock(conn, self.dialect):
                    return {**report, "skipped": "another instance is maintaining"}
                if mt.should_compact(conn, now):
                    report["compacted_samples"] = mt.compact(conn)
                    self._wal_samples, self._wal_oldest = 0, None
            until = mt.closed_until(now)
            with self._db.read.connect() as conn:
                hours = mt.pending_hours(conn, until)
            for t0 in hours:  # one short transaction per hour
                with self._db.write.begin() as conn:
                    if not try_maintenance_lock(conn, self.dialect):
                        return {**report, "skipped": "another instance is maintaining"}
                    report["rolled_chunks"] += mt.roll_hour(conn, t0)
                report["rolled_hours"] += 1
            with self._db.write.begin() as conn:
                if not try_maintenance_lock(conn, self.dialect):
                    return {**report, "skipped": "another instance is maintaining"}
                if mt.get_mark(conn, mt.ROLLUP_MARK) < until:
                    mt.set_mark(conn, mt.ROLLUP_MARK, until)
                report.update(mt.apply_retention(conn, now, self._policy))
            self._rolled_until = max(self._rolled_until, until)
            self._retention_hour = max(self._retention_hour, now // mt.CHUNK_S)
        report["seconds"] = round(time.perf_counter() - started, 4)
        return report

    # ------------------------------------------------------------------------- services and records

    def upsert_services(self, items: Sequence[ServiceRecord]) -> None:
        self._write(records.upsert_services, self.dialect, items)

    def services(self) -> list[ServiceRecord]:
        return self._read(records.read_services)

    def write_probe_results(self, results: Sequence[ProbeResult]) -> None:
        self._write(records.write_probe_results, results)

    def probe_results(self, service: str | None = None, probe: str | None = None,
                      since: float | None = None, limit: int = 1000) -> list[ProbeResult]:
        return self._read(records.read_probe_results, service, probe, since, limit)

    def set_health(self, service: str, probe: str, health: Health, since: float, detail: str) -> None:
        self._write(records.set_health, self.dialect, service, probe, health, since, detail)

    def health(self) -> list[dict[str, Any]]:
        return self._read(records.read_health)

    def append_events(self, items: Sequence[Event]) -> None:
        self._write(records.append_events, items)

    def events(self, since: float | None = None, until: float | None = None, service: str | None = None,
               kind: str | None = None, limit: int = 1000) -> list[Event]:
        return self._read(records.read_events, since, until, service, kind, limit)

    def write_signals(self, items: Sequence[Signal]) -> None:
        self._write(records.write_signals, items)

    def signals(self, since: float | None = None, until: float | None = None, service: str | None = None,
                kind: str | None = None, limit: int = 1000) -> list[Signal]:
        return self._read(records.read_signals, since, until, service, kind, limit)

    def write_decisions(self, items: Sequence[Decision]) -> None:
        self._write(records.write_decisions, items)

    def decisions(self, since: float | None = None, kind: str | None = None, subject: str | None = None,
                  limit: int = 1000) -> list[Decision]:
        return self._read(records.read_decisions, since, kind, subject, limit)

    def write_alerts(self, items: Sequence[Alert], now: float) -> None:
        self._write(records.write_alerts, self.dialect, items, now)

    def alerts(self, status: str | None = None, service: str | None = None, limit: int = 1000) -> list[Alert]:
        """Alerts by state (firing | resolved | None for all), newest first."""
        return self._read(records.read_alerts, status, service, limit)

    def write_incidents(self, changed: Sequence[Incident], members: Sequence[Member],
                        timeline: Sequence[TimelineEntry]) -> None:
        self._write(incident_rows.write, self.dialect, changed, members, timeline)

    def incidents(self, status: str | None = None, service: str | None = None, since: float | None = None,
                  limit: int = 100, offset: int = 0, with_members: bool = False) -> list[Incident]:
        """Incidents newest first; status open | acknowledged | resolved | active (not resolved) | None."""
        return self._read(incident_rows.read, status, service, since, limit, offset, with_members)

    def incident(self, incident_id: int) -> Incident | None:
        return self._read(incident_rows.read_one, incident_id)

    def incident_timeline(self, incident_id: int, limit: int = 10_000) -> list[TimelineEntry]:
        return self._read(incident_rows.read_timeline, incident_id, limit)

    def last_incident_id(self) -> int:
        return self._read(incident_rows.max_id)

    def write_silence(self, silence: Any) -> None:
        """Create or replace one silence (a vigil.incidents.silences.Silence)."""
        self._write(silence_rows.write_silence, self.dialect, silence)

    def silences(self) -> list[Any]:
        return self._read(silence_rows.read_silences)

    def delete_silences(self, ids: Sequence[str]) -> None:
        self._write(silence_rows.delete_silences, ids)

    def audit_append(self, entries: Sequence[dict[str, Any]]) -> list[Any]:
        """Chain and write audit entries (vigil.audit) after the last record; the sealed records."""
        with self._write_lock, self._db.write.begin() as conn:
            return audit_rows.append(conn, self.dialect, entries)

    def audit_records(self, **filters: Any) -> list[Any]:
        """Audit records newest first (filters as vigil.store.audit.read)."""
        with self._db.read.begin() as conn:
            return audit_rows.read(conn, **filters)

    def audit_page(self, after_id: int, limit: int, since: float | None = None) -> list[Any]:
        return self._read(audit_rows.page, after_id, limit, since)

    def write_api_keys(self, recs: Sequence[Any]) -> None:
        """Create or replace key versions (vigil.keys.model.KeyRecord), in one transaction."""
        self._write(key_rows.write_keys, self.dialect, list(recs))

    def api_keys(self) -> list[Any]:
        return self._read(key_rows.read_keys)

    def add_api_key_uses(self, uses: Any) -> None:
        """{key id: (uses, last used)}, added to each row."""
        self._write(key_rows.add_uses, uses)

    def save_state(self, key: str, blob: bytes) -> None:
        self._write(records.save_state, self.dialect, key, blob)

    def load_state(self, key: str) -> bytes | None:
        return self._read(records.load_state, key)

    # ------------------------------------------------------------------------------------- outbox

    def outbox_add(self, rows: Sequence[ob.NewRow]) -> list[int | None]:
        """Write notices before they are sent; ids of the new rows, None for duplicates."""
        with self._write_lock, self._db.write.begin() as conn:
            return ob.add(conn, rows)

    def outbox_update(self, updates: Sequence[ob.RowUpdate], told: Sequence[tuple[ob.Told, str | None]],
                      now: float) -> None:
        self._write(ob.update, self.dialect, updates, told, now)

    def outbox_unfinished(self) -> list[ob.OutboxRow]:
        return self._read(ob.unfinished)

    def outbox_told(self) -> dict[ob.Told, str]:
        return self._read(ob.read_told)

    def outbox_entries(self, state: str | None = None, receiver: str | None = None, key: str | None = None,
                       limit: int = 100, before_id: int | None = None,
                       with_notice: bool = False) -> list[ob.OutboxRow]:
        """Notifications with their delivery state, newest first (state=dead: the dead letters)."""
        return self._read(ob.entries, state, receiver, key, limit, before_id, with_notice)

    def outbox_counts(self) -> dict[str, int]:
        return self._read(ob.counts)

    def outbox_requeue(self, ids: Sequence[int], now: float,
                       known: Collection[tuple[str, str]]) -> tuple[list[ob.OutboxRow], dict[int, str]]:
        """Dead letters back to pending; the refused ones with the reason."""
        with self._write_lock, self._db.write.begin() as conn:
            return ob.requeue(conn, ids, now, known)

    def outbox_prune(self, before: float) -> int:
        with self._write_lock, self._db.write.begin() as conn:
            return ob.prune(conn, before)

    # ------------------------------------------------------------------------------------- actions

    def save_action(self, action: Any) -> None:
        self._write(action_rows.save_action, self.dialect, action)

    def save_step(self, step: Any) -> None:
        self._write(action_rows.save_step, self.dialect, step)

    def actions(self, state: str | None = None, service: str | None = None, since: float | None = None,
                limit: int = 100, *, incident: int | None = None) -> list[Any]:
        """Remediation actions, newest first, with their steps (state `unfinished`: not yet ended)."""
        return self._read(action_rows.read_actions, state, service, since, limit, incident)

    def action(self, action_id: int) -> Any:
        return self._read(action_rows.read_action, action_id)

    def last_action_id(self) -> int:
        return self._read(action_rows.last_action_id)

    # ----------------------------------------------------------------------- maintenance windows

    def open_maintenance(self, window: Any) -> None:
        self._write(window_rows.open_window, self.dialect, window)

    def close_maintenance(self, service: str) -> bool:
        with self._write_lock, self._db.write.begin() as conn:
            return window_rows.close_window(conn, service)

    def maintenance_windows(self, open_at: float | None = None) -> list[Any]:
        """The windows runbooks opened, by service (with `open_at`: those not ended by then)."""
        return self._read(window_rows.read_windows, open_at)

    def _write(self, fn: Any, *args: Any) -> None:
        with self._write_lock, self._db.write.begin() as conn:
            fn(conn, *args)

    def _read(self, fn: Any, *args: Any) -> Any:
        with self._db.read.begin() as conn:
            return fn(conn, *args)


def open_store(url: str, retention: Any = None) -> Store:
    """Connect to `url` (sqlite:///path.db or postgresql+psycopg://...), migrate to head, and return
    the Store. `retention` is a vigil.config.schema.Retention (defaults: raw 14d, 1m 90d, 1h 400d)."""
    policy = mt.Policy() if retention is None else mt.Policy(
        raw_s=float(retention.raw), rollup_1m_s=float(retention.rollup_1m),
        rollup_1h_s=float(retention.rollup_1h))
    engines = connect(url)
    try:
        migrate(engines)
        return Store(engines, policy)
    except sa.exc.OperationalError as exc:  # cannot connect, refused, bad password, no such file
        engines.dispose()
        raise unavailable(exc, url) from exc
    except Exception:
        engines.dispose()
        raise
