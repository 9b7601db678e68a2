"""What a summary is written from (the facts of an incident): the incident (a copy taken in the pass),
its timeline, the events and decisions of its services from a little before it opened until now (health
changes, actuator notes, scaling, config reloads), versions that changed in that window, and similar past incidents.
`gather` reads the store: it runs on the worker, never on the event loop."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from vigil.incidents.model import Incident, TimelineEntry
from vigil.incidents.similar import IncidentHistory, Match, find
from vigil.model import Decision, Event

MAX_SERVICES = 10  # services whose events and decisions are read (the incident's first ones)
EVENTS_PER_SERVICE = 1_000  # newest first: an outage's window is short
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


class FactStore(IncidentHistory, Protocol):
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
class Facts:
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


class SharedReads:
    """The store reads of one job, made once per service and shared by its incidents (the incidents
    of one outage share services): events and decisions from the earliest window's start, series,
    and the incidents similar ones are looked for among."""

    def __init__(self, store: FactStore, since: float, now: float) -> None:
        self.store, self.since, self.now = store, since, now
        self._memo: dict[tuple[str, str | None], Any] = {}

    def _once(self, what: str, service: str | None, read: Any) -> Any:
        key = (what, service)
        if key not in self._memo:
            self._memo[key] = read()
        return self._memo[key]

    def events(self, service: str) -> list[Event]:
        return self._once(
            "events",
            service,
            lambda: self.store.events(self.since, self.now, service, None, EVENTS_PER_SERVICE),
        )

    def system_events(self) -> list[Event]:
        """Changes of the whole system (a config reload): events of a change kind with no service."""
        return self._once(
            "system",
            None,
            lambda: [
                e
                for kind in CHANGE_KINDS
                for e in self.store.events(self.since, self.now, None, kind, 50)
                if e.service is None
            ],
        )

    def decisions(self, service: str) -> list[Decision]:
        return self._once(
            "decisions",
            service,
            lambda: [
                d
                for d in self.store.decisions(self.since, None, service, EVENTS_PER_SERVICE)
                if d.kind in ("scale", "replica") and d.ts <= self.now
            ],
        )

    def series(self, service: str) -> list[Any]:
        return self._once(
            "series", service, lambda: self.store.list_series(None, {"service": service}, SERIES_PER_SERVICE)
        )

    # the IncidentHistory face, for similar.find
    def incidents(
        self,
        status: str | None = None,
        service: str | None = None,
        since: float | None = None,
        limit: int = 100,
        offset: int = 0,
        with_members: bool = False,
    ) -> list[Incident]:
        return self._once(
            "incidents",
            service,
            lambda: self.store.incidents(status, service, since, limit, offset, with_members),
        )

    def incident_timeline(self, incident_id: int, limit: int = 10_000) -> list[TimelineEntry]:
        return self.store.incident_timeline(incident_id, limit)


def gather(
    store: FactStore, inc: Incident, now: float, lookback: float, reads: SharedReads | None = None
) -> Facts:
    """The evidence of one incident (blocking: on the worker). `reads` shares the per-service reads
    of the incidents summarised together; its window must start at or before this one's."""
    ev = Facts(inc, now, lookback)
    reads = reads or SharedReads(store, ev.since, now)
    services = services_of(inc)
    ev.timeline = store.incident_timeline(inc.id, TIMELINE_MAX)
    seen: set[tuple[float, str, str]] = set()
    events = [e for s in services for e in reads.events(s)] + reads.system_events()
    for e in sorted(events, key=lambda e: e.ts):
        key = (e.ts, e.kind, e.message)
        if e.ts >= ev.since and key not in seen:
            seen.add(key)
            ev.events.append(e)
    ev.decisions = sorted(
        (d for s in services for d in reads.decisions(s) if d.ts >= ev.since), key=lambda d: d.ts
    )
    for s in services:
        ev.versions += version_changes(reads.series(s), s, ev.since, now)
    ev.similar = find(reads, inc)
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
