"""Everything besides samples: services, probe results, health, the event log, signals, decisions
and opaque state blobs. Plain rows; JSON columns hold the open-ended parts."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa

from vigil.model import Alert, AlertStatus, Decision, Event, Health, ProbeResult, Severity, Signal
from vigil.store.db import upsert
from vigil.store.schema import alerts, decisions, events, health, probe_results, services, signals, state


@dataclass(slots=True)
class ServiceRecord:
    name: str
    description: str = ""
    depends_on: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)


def _json(v: Any) -> str:
    return orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()


def _newest(conn: sa.Connection, table: sa.Table, q: sa.Select, limit: int) -> list[sa.Row]:
    """The newest `limit` rows matching q, returned oldest first (as a timeline reads)."""
    rows = list(conn.execute(q.order_by(table.c.ts.desc(), table.c.id.desc()).limit(limit)))
    rows.reverse()
    return rows


def _matching(q: sa.Select, table: sa.Table, **equal: Any) -> sa.Select:
    """Add `column == value` for every filter that was given (None means "any")."""
    for column, value in equal.items():
        if value is not None:
            q = q.where(table.c[column] == value)
    return q


def _since_until(q: sa.Select, table: sa.Table, since: float | None, until: float | None) -> sa.Select:
    if since is not None:
        q = q.where(table.c.ts >= since)
    if until is not None:
        q = q.where(table.c.ts <= until)
    return q


# ----------------------------------------------------------------------------------------- services

def upsert_services(conn: sa.Connection, dialect: str, records: Sequence[ServiceRecord]) -> None:
    if not records:
        return
    now = time.time()
    rows = [{"name": r.name, "description": r.description, "depends_on": _json(list(r.depends_on)),
             "labels": _json(dict(r.labels)), "updated_at": now} for r in records]
    conn.execute(upsert(dialect, services, ["name"], ["description", "depends_on", "labels", "updated_at"]),
                 rows)


def read_services(conn: sa.Connection) -> list[ServiceRecord]:
    c = services.c
    return [ServiceRecord(n, d, orjson.loads(dep), orjson.loads(lab)) for n, d, dep, lab in
            conn.execute(sa.select(c.name, c.description, c.depends_on, c.labels).order_by(c.name))]


# ------------------------------------------------------------------------------------ probes, health

def write_probe_results(conn: sa.Connection, results: Sequence[ProbeResult]) -> None:
    if results:
        conn.execute(sa.insert(probe_results), [
            {"service": r.service, "probe": r.probe, "ts": float(r.ts), "ok": bool(r.ok),
             "latency_s": float(r.latency_s), "detail": r.detail, "values": _json(r.values)}
            for r in results])


def read_probe_results(conn: sa.Connection, service: str | None, probe: str | None, since: float | None,
                       limit: int) -> list[ProbeResult]:
    t = probe_results
    q = _since_until(sa.select(t), t, since, None)
    q = _matching(q, t, service=service, probe=probe)
    return [ProbeResult(r.service, r.probe, r.ts, bool(r.ok), r.latency_s, r.detail, orjson.loads(r.values))
            for r in _newest(conn, t, q, limit)]


def set_health(conn: sa.Connection, dialect: str, service: str, probe: str, value: Health, since: float,
               detail: str) -> None:
    conn.execute(upsert(dialect, health, ["service", "probe"], ["health", "since", "detail"]),
                 {"service": service, "probe": probe, "health": Health(value).value, "since": float(since),
                  "detail": detail})


def read_health(conn: sa.Connection) -> list[dict[str, Any]]:
    c = health.c
    return [{"service": s, "probe": p, "health": Health(h), "since": since, "detail": d}
            for s, p, h, since, d in conn.execute(
                sa.select(c.service, c.probe, c.health, c.since, c.detail).order_by(c.service, c.probe))]


# ------------------------------------------------------------------------- events, signals, decisions

def append_events(conn: sa.Connection, items: Sequence[Event]) -> None:
    if items:
        conn.execute(sa.insert(events), [{"ts": float(e.ts), "kind": e.kind, "service": e.service,
                                          "message": e.message, "data": _json(e.data)} for e in items])


def read_events(conn: sa.Connection, since: float | None, until: float | None, service: str | None,
                kind: str | None, limit: int) -> list[Event]:
    t = events
    q = _since_until(sa.select(t), t, since, until)
    q = _matching(q, t, service=service, kind=kind)
    return [Event(r.ts, r.kind, r.service, r.message, orjson.loads(r.data))
            for r in _newest(conn, t, q, limit)]


def write_signals(conn: sa.Connection, items: Sequence[Signal]) -> None:
    if items:
        conn.execute(sa.insert(signals), [
            {"ts": float(s.ts), "service": s.service, "series": s.series, "kind": s.kind,
             "severity": Severity(s.severity).value, "score": float(s.score), "reason": s.reason,
             "source": s.source, "window_start": s.window_start, "window_end": s.window_end,
             "evidence": _json(s.evidence)} for s in items])


def read_signals(conn: sa.Connection, since: float | None, until: float | None, service: str | None,
                 kind: str | None, limit: int) -> list[Signal]:
    t = signals
    q = _since_until(sa.select(t), t, since, until)
    q = _matching(q, t, service=service, kind=kind)
    return [Signal(r.ts, r.service, r.series, r.kind, Severity(r.severity), r.score, r.reason, r.source,
                   r.window_start, r.window_end, orjson.loads(r.evidence))
            for r in _newest(conn, t, q, limit)]


def write_decisions(conn: sa.Connection, items: Sequence[Decision]) -> None:
    if items:
        conn.execute(sa.insert(decisions), [
            {"ts": float(d.ts), "kind": d.kind, "subject": d.subject, "rule": d.rule,
             "inputs": _json(d.inputs), "result": _json(d.result)} for d in items])


def read_decisions(conn: sa.Connection, since: float | None, kind: str | None, subject: str | None,
                   limit: int) -> list[Decision]:
    t = decisions
    q = _since_until(sa.select(t), t, since, None)
    q = _matching(q, t, kind=kind, subject=subject)
    return [Decision(r.ts, r.kind, r.subject, r.rule, orjson.loads(r.inputs), orjson.loads(r.result))
            for r in _newest(conn, t, q, limit)]


# ------------------------------------------------------------------------------------------ alerts

_ALERT_COLUMNS = ["status", "service", "alertname", "severity", "source", "starts_at", "ends_at", "updated_at",
                  "labels", "annotations", "evidence", "generator_url", "timeout"]


def write_alerts(conn: sa.Connection, dialect: str, items: Sequence[Alert], now: float) -> None:
    """Upsert each alert's current state by fingerprint (the last of several for one fingerprint wins)."""
    rows = {a.fingerprint: {
        "fingerprint": a.fingerprint, "status": AlertStatus(a.status).value, "service": a.service,
        "alertname": a.name, "severity": a.severity.value, "source": a.source, "starts_at": float(a.starts_at),
        "ends_at": None if a.ends_at is None else float(a.ends_at), "updated_at": float(now),
        "labels": _json(a.labels), "annotations": _json(a.annotations), "evidence": _json(a.evidence),
        "generator_url": a.generator_url, "timeout": bool(a.timeout)}
        for a in items}
    if rows:
        conn.execute(upsert(dialect, alerts, ["fingerprint"], _ALERT_COLUMNS), list(rows.values()))


def read_alerts(conn: sa.Connection, status: str | None, service: str | None, limit: int) -> list[Alert]:
    """Newest first by start."""
    q = _matching(sa.select(alerts), alerts, status=status, service=service)
    rows = conn.execute(q.order_by(alerts.c.starts_at.desc(), alerts.c.fingerprint).limit(limit))
    return [Alert(orjson.loads(r.labels), AlertStatus(r.status), r.starts_at, r.ends_at, orjson.loads(r.annotations),
                  r.source, orjson.loads(r.evidence), r.fingerprint, r.generator_url, bool(r.timeout)) for r in rows]


# ------------------------------------------------------------------------------------------- state

def save_state(conn: sa.Connection, dialect: str, key: str, blob: bytes) -> None:
    conn.execute(upsert(dialect, state, ["key"], ["blob", "updated_at"]),
                 {"key": key, "blob": bytes(blob), "updated_at": time.time()})


def load_state(conn: sa.Connection, key: str) -> bytes | None:
    v = conn.execute(sa.select(state.c.blob).where(state.c.key == key)).scalar()
    return None if v is None else bytes(v)
