"""What a summary is written from: the incident (a copy taken in the pass), its timeline, the events
and decisions of its services from a little before it opened until now (health changes, actuator
notes, scaling, config reloads), versions that changed in that window, and similar past incidents.
`gather` reads the store: it runs on the worker, never on the event loop."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from vigil.incidents.model import Incident, TimelineEntry
from vigil.incidents.similar import IncidentHistory, Match, find
from vigil.model import Decision, Event

MAX_SERVICES = 10  # services whose events and decisions are read (the incident's first ones)
EVENTS_PER_SERVICE = 300
TIMELINE_MAX = 500
SERIES_PER_SERVICE = 5_000
# Event kinds that are changes made to the system watched (not symptoms); service-less ones included.
CHANGE_KINDS = ("actuator", "config", "reload", "deploy")
# Series labels that name what is running; a new value first seen is a deploy.
VERSION_LABELS = (
    "version",
    "release",
    "revision",
    "image",
    "image_tag",
    "build",
    "commit",
    "git_commit",
    "git_sha",
)


class EvidenceStore(IncidentHistory, Protocol):
    def events(
        self,
        since: float | None = None,
        until: float | None = None,
        service: str | None = None,
        kind: str | None = None,
        limit: int = 1000,
    ) -> list[Event]: ...

    def decisions(
        self,
        since: float | None = None,
        kind: str | None = None,
        subject: str | None = None,
        limit: int = 1000,
    ) -> list[Decision]: ...

    def list_series(
        self, name: str | None = None, matchers: dict[str, str] | None = None, limit: int = 10_000
    ) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class VersionChange:
    service: str
    label: str
    before: str
    after: str
    at: float  # when the new value was first seen


@dataclass
class Evidence:
    incident: Incident
    now: float
    lookback: float
    timeline: list[TimelineEntry] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)  # oldest first
    decisions: list[Decision] = field(default_factory=list)  # scale and replica decisions, oldest first
    versions: list[VersionChange] = field(default_factory=list)
    similar: list[Match] = field(default_factory=list)

    @property
    def since(self) -> float:
        return self.incident.opened_at - self.lookback


def snapshot(inc: Incident) -> Incident:
    """A copy the worker can read while the pass goes on changing the original."""
    return replace(
        inc,
        services=list(inc.services),
        root_causes=[dict(r) for r in inc.root_causes],
        escalation=dict(inc.escalation),
        members={fp: replace(m) for fp, m in inc.members.items()},
    )


def services_of(inc: Incident) -> list[str]:
    return [s for s in dict.fromkeys([inc.service, *inc.services]) if s][:MAX_SERVICES]


def gather(store: EvidenceStore, inc: Incident, now: float, lookback: float) -> Evidence:
    ev = Evidence(inc, now, lookback)
    services = services_of(inc)
    ev.timeline = store.incident_timeline(inc.id, TIMELINE_MAX)
    seen: set[tuple[float, str, str]] = set()
    events: list[Event] = []
    for s in services:
        events += store.events(ev.since, now, s, None, EVENTS_PER_SERVICE)
    for kind in CHANGE_KINDS:  # changes of the whole system (a reload, a restart of vigil)
        events += [e for e in store.events(ev.since, now, None, kind, 50) if e.service is None]
    for e in sorted(events, key=lambda e: e.ts):
        key = (e.ts, e.kind, e.message)
        if key not in seen:
            seen.add(key)
            ev.events.append(e)
    for s in services:
        ev.decisions += [
            d
            for d in store.decisions(ev.since, None, s, EVENTS_PER_SERVICE)
            if d.kind in ("scale", "replica") and d.ts <= now
        ]
    ev.decisions.sort(key=lambda d: d.ts)
    for s in services:
        ev.versions += version_changes(
            store.list_series(None, {"service": s}, SERIES_PER_SERVICE), s, ev.since, now
        )
    ev.similar = find(store, inc)
    return ev


def version_changes(series: list[Any], service: str, since: float, until: float) -> list[VersionChange]:
    """A version label whose value was first seen in [since, until] while another value was seen
    before: what was running changed then."""
    first: dict[str, dict[str, float]] = {}  # label -> value -> first seen
    for info in series:
        if info.first_ts is None:
            continue
        for name, value in info.key.labels:
            if name in VERSION_LABELS or name.endswith("_version"):
                values = first.setdefault(name, {})
                values[value] = min(values.get(value, float("inf")), float(info.first_ts))
    out = []
    for name, values in first.items():
        ordered = sorted(values.items(), key=lambda kv: kv[1])
        for (before, _), (after, at) in zip(ordered, ordered[1:], strict=False):
            if since <= at <= until:
                out.append(VersionChange(service, name, before, after, at))
    return out
