"""Reports: per service, over a period, how incidents went and what they cost.

- **MTTD**: from the first alert's start to the incident opening (an outside alert may start long
  before it reaches vigil), **MTTA**: opening to acknowledgement, **MTTR**: opening to resolution;
  means over the incidents about the service that opened in the period.
- **SLO impact**: minutes with an SLO burn-rate alert of the service firing (source `rule:slo...` or
  evidence kind `slo_burn`), from the event log.
- **Availability**: from `probe_success` (per-minute roll-ups, every probe of the service pooled) where
  the service has probes; else from the time a critical incident about it was open. Measured against
  `services[].sla`; **downtime** is the unavailable share of the time measured, and its **cost** is
  `services[].downtime_cost_per_minute` per minute of it.

Periods end at `at`: daily 24 h, weekly 7 days, executive 30 days (with the 30 days before, to
compare). `build` reads the store: run it on the worker, not on the event loop."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from vigil.config import VigilConfig
from vigil.incidents.model import Incident
from vigil.model import SEVERITY_RANK, Alert, Event, SeriesKey, Severity, severity_of

DAY = 86400.0
PERIOD_S = {"daily": DAY, "weekly": 7 * DAY, "executive": 30 * DAY}
BUCKET_S = {"daily": 3600.0, "weekly": DAY, "executive": DAY}
MAX_INCIDENTS = 20_000
EVENTS_PER_SERVICE = 50_000
ALERT_LOOKBACK_S = 7 * DAY  # an alert that started this long before the period is still seen firing in it
TOP_INCIDENTS = 10
def rank(severity: str) -> int:
    return SEVERITY_RANK[severity_of(str(getattr(severity, "value", severity)))]


def critical(severity: str) -> bool:
    return severity_of(str(getattr(severity, "value", severity))) is Severity.CRITICAL


class ReportStore(Protocol):
    def incidents(
        self,
        status: str | None = None,
        service: str | None = None,
        since: float | None = None,
        limit: int = 100,
        offset: int = 0,
        with_members: bool = False,
    ) -> list[Incident]: ...

    def events(
        self,
        since: float | None = None,
        until: float | None = None,
        service: str | None = None,
        kind: str | None = None,
        limit: int = 1000,
    ) -> list[Event]: ...

    def alerts(
        self, status: str | None = None, service: str | None = None, limit: int = 1000
    ) -> list[Alert]: ...

    def list_series(
        self, name: str | None = None, matchers: dict[str, str] | None = None, limit: int = 10_000
    ) -> list[Any]: ...

    def query_range(
        self, key: SeriesKey, start: float, end: float, step: float | None = None, resolution: str = "auto"
    ) -> Any: ...


@dataclass(frozen=True, slots=True)
class Period:
    kind: str
    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


def period(kind: str, at: float) -> Period:
    if kind not in PERIOD_S:
        raise ValueError(f"unknown report {kind!r}; choose one of: {', '.join(PERIOD_S)}")
    return Period(kind, at - PERIOD_S[kind], at)


@dataclass
class ServiceFigures:
    service: str
    incidents: int = 0
    critical: int = 0
    mttd_s: float | None = None
    mtta_s: float | None = None
    mttr_s: float | None = None
    slo_impact_s: float = 0.0
    downtime_s: float = 0.0
    measured_s: float = 0.0  # the time availability was measured over
    availability_pct: float | None = None
    availability_from: str = ""  # probes | incidents
    sla_pct: float | None = None
    downtime_cost: float | None = None

    @property
    def sla_met(self) -> bool | None:
        if self.sla_pct is None or self.availability_pct is None:
            return None
        return self.availability_pct >= self.sla_pct

    @property
    def budget_s(self) -> float | None:
        """Downtime the SLA allows over the time measured."""
        return None if self.sla_pct is None else (1 - self.sla_pct / 100) * self.measured_s

    def view(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "incidents": self.incidents,
            "critical": self.critical,
            "mttd_s": self.mttd_s,
            "mtta_s": self.mtta_s,
            "mttr_s": self.mttr_s,
            "slo_impact_minutes": round(self.slo_impact_s / 60, 2),
            "downtime_minutes": round(self.downtime_s / 60, 2),
            "availability_pct": self.availability_pct,
            "availability_from": self.availability_from,
            "sla_pct": self.sla_pct,
            "sla_met": self.sla_met,
            "downtime_cost": self.downtime_cost,
        }


@dataclass(frozen=True, slots=True)
class IncidentLine:
    id: int
    title: str
    service: str
    severity: str
    status: str
    opened_at: float
    resolved_at: float | None
    open_s: float  # open time inside the period


@dataclass
class Report:
    period: Period
    generated_at: float
    services: list[ServiceFigures]
    fleet: ServiceFigures
    incidents: list[IncidentLine] = field(default_factory=list)  # the heaviest ones
    buckets: list[tuple[float, int]] = field(default_factory=list)  # incidents opened per hour or day
    previous: Report | None = None  # executive: the period before
    truncated: bool = False  # more incidents than read

    def view(self) -> dict[str, Any]:
        return {
            "kind": self.period.kind,
            "start": self.period.start,
            "end": self.period.end,
            "generated_at": self.generated_at,
            "fleet": self.fleet.view(),
            "services": [s.view() for s in self.services],
            "incidents": [vars_of(i) for i in self.incidents],
            "buckets": [{"start": t, "incidents": n} for t, n in self.buckets],
            "previous": None if self.previous is None else self.previous.view(),
            "truncated": self.truncated,
        }


def vars_of(line: IncidentLine) -> dict[str, Any]:
    return {f.name: getattr(line, f.name) for f in fields(line)}


# ------------------------------------------------------------------------------------------ intervals


def union_length(spans: Iterable[tuple[float, float]], lo: float, hi: float) -> float:
    """Total length of the union of spans, clipped to [lo, hi]."""
    total, cur_a, cur_b = 0.0, None, None
    for a, b in sorted((max(a, lo), min(b, hi)) for a, b in spans):
        if b <= a:
            continue
        if cur_b is None or a > cur_b:
            if cur_b is not None and cur_a is not None:
                total += cur_b - cur_a
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    if cur_a is not None and cur_b is not None:
        total += cur_b - cur_a
    return total


def firing_spans(events: Iterable[Event], until: float) -> dict[str, list[tuple[float, float]]]:
    """fingerprint -> [(start, end)] from alert events in time order; one still firing ends at `until`."""
    spans: dict[str, list[tuple[float, float]]] = {}
    started: dict[str, float] = {}
    for e in sorted(events, key=lambda e: e.ts):
        fp = e.data.get("fingerprint")
        if not isinstance(fp, str):
            continue
        if e.data.get("status") == "firing":
            started.setdefault(fp, e.ts)
        elif fp in started:
            spans.setdefault(fp, []).append((started.pop(fp), e.ts))
    for fp, t in started.items():
        spans.setdefault(fp, []).append((t, until))
    return spans


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


# ------------------------------------------------------------------------------------------ building


def build(config: VigilConfig, store: ReportStore, kind: str, at: float, now: float) -> Report:
    """The report of `kind` for the period ending at `at` (blocking: reads the store)."""
    per = period(kind, at)
    report = _figures(config, store, per, now)
    if kind == "executive":
        report.previous = _figures(config, store, Period(kind, per.start - per.length, per.start), now)
    return report


def _figures(config: VigilConfig, store: ReportStore, per: Period, now: float) -> Report:
    until = min(per.end, now)
    found = store.incidents(None, None, per.start, MAX_INCIDENTS, 0, True)
    truncated = len(found) >= MAX_INCIDENTS
    found = [
        i for i in found if i.opened_at <= per.end and (i.resolved_at is None or i.resolved_at >= per.start)
    ]
    opened = [i for i in found if i.opened_at >= per.start]
    names = list(
        dict.fromkeys([s.name for s in config.services] + sorted({i.service for i in found if i.service}))
    )
    configured = {s.name: s for s in config.services}
    alert_events = {
        s: store.events(per.start - ALERT_LOOKBACK_S, until, s, "alert", EVENTS_PER_SERVICE)
        for s in dict.fromkeys(names + [m.service for i in opened for m in i.members.values() if m.service])
    }
    starts = _alert_starts(alert_events)
    services = []
    for name in names:
        svc = configured.get(name)
        f = ServiceFigures(name, sla_pct=svc.sla if svc else None)
        mine = [i for i in opened if i.service == name]
        _times(f, mine, starts)
        f.slo_impact_s = _slo_time(store, name, alert_events.get(name, []), per, until)
        _availability(f, store, [i for i in found if i.service == name], per, until)
        cost = svc.downtime_cost_per_minute if svc else None
        f.downtime_cost = None if cost is None else round(f.downtime_s / 60 * cost, 2)
        services.append(f)
    fleet = ServiceFigures("all services")
    _times(fleet, opened, starts)
    fleet.slo_impact_s = sum(f.slo_impact_s for f in services)
    fleet.downtime_s = sum(f.downtime_s for f in services)
    costs = [f.downtime_cost for f in services if f.downtime_cost is not None]
    fleet.downtime_cost = round(sum(costs), 2) if costs else None
    return Report(
        per, now, services, fleet, _heaviest(found, per, until), _buckets(opened, per), None, truncated
    )


def _alert_starts(alert_events: dict[str, list[Event]]) -> dict[str, list[float]]:
    """fingerprint -> the start times of its firing episodes, in order."""
    out: dict[str, list[float]] = {}
    for events in alert_events.values():
        for e in events:
            fp = e.data.get("fingerprint")
            if isinstance(fp, str) and e.data.get("status") == "firing":
                out.setdefault(fp, []).append(e.ts)
    for ts in out.values():
        ts.sort()
    return out


def _times(f: ServiceFigures, incidents: list[Incident], starts: dict[str, list[float]]) -> None:
    f.incidents = len(incidents)
    f.critical = sum(1 for i in incidents if critical(i.severity))
    detect = []
    for inc in incidents:
        firsts = [
            max((t for t in starts.get(fp, []) if t <= inc.opened_at + 1e-6), default=None)
            for fp in inc.members
        ]
        known = [t for t in firsts if t is not None]
        if known:
            detect.append(max(0.0, inc.opened_at - min(known)))
    f.mttd_s = _mean(detect)
    f.mtta_s = _mean([i.acknowledged_at - i.opened_at for i in incidents if i.acknowledged_at is not None])
    f.mttr_s = _mean([i.resolved_at - i.opened_at for i in incidents if i.resolved_at is not None])


def _slo_time(store: ReportStore, service: str, events: list[Event], per: Period, until: float) -> float:
    slo = {
        a.fingerprint
        for a in store.alerts(None, service, 5_000)
        if a.source.startswith("rule:slo") or a.evidence.get("kind") == "slo_burn"
    }
    mine = [
        e
        for e in events
        if e.data.get("fingerprint") in slo or str(e.data.get("source", "")).startswith("rule:slo")
    ]
    spans = [s for fp_spans in firing_spans(mine, until).values() for s in fp_spans]
    return union_length(spans, per.start, until)


def _availability(
    f: ServiceFigures, store: ReportStore, incidents: list[Incident], per: Period, until: float
) -> None:
    values: list[float] = []
    minutes: set[float] = set()
    for info in store.list_series("probe_success", {"service": f.service}, 100):
        r = store.query_range(info.key, per.start, until, 60.0)
        values += [float(v) for v in r.values]
        minutes.update(float(t) for t in r.ts)
    if values:
        avail = sum(values) / len(values)
        f.availability_from, f.measured_s = "probes", len(minutes) * 60.0
        f.downtime_s = (1 - avail) * f.measured_s
        f.availability_pct = round(100 * avail, 4)
        return
    f.availability_from, f.measured_s = "incidents", max(0.0, until - per.start)
    spans = [
        (i.opened_at, i.resolved_at if i.resolved_at is not None else until)
        for i in incidents
        if critical(i.severity)
    ]
    f.downtime_s = union_length(spans, per.start, until)
    if f.measured_s > 0:
        f.availability_pct = round(100 * (1 - f.downtime_s / f.measured_s), 4)


def _heaviest(incidents: list[Incident], per: Period, until: float) -> list[IncidentLine]:
    lines = [
        IncidentLine(
            i.id,
            i.title,
            i.service,
            i.severity.value,
            i.status.value,
            i.opened_at,
            i.resolved_at,
            union_length([(i.opened_at, i.resolved_at or until)], per.start, until),
        )
        for i in incidents
    ]
    lines.sort(key=lambda x: (-rank(x.severity), -x.open_s, x.id))
    return lines[:TOP_INCIDENTS]


def _buckets(opened: list[Incident], per: Period) -> list[tuple[float, int]]:
    width = BUCKET_S[per.kind]
    n = int(round(per.length / width))
    counts = [0] * n
    for inc in opened:
        k = min(n - 1, int((inc.opened_at - per.start) // width))  # one opened at the very end: the last
        if k >= 0:
            counts[k] += 1
    return [(per.start + k * width, c) for k, c in enumerate(counts)]
