"""Memory: the past incidents most like this one. Likeness is the overlap of the services in them and
of their alert names (Jaccard, half each), weighted by recency (its weight halves every
`HALF_LIFE_S`), so last week's outage of the same services with the same alerts outranks a similar
one from last year. The cost is bounded: only incidents about one of this incident's services are
read (the store's index on the service an incident is about), at most `PER_SERVICE` each."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from vigil.incidents.model import Incident, TimelineEntry

HALF_LIFE_S = 30 * 86400.0
MIN_LIKENESS = 0.3  # below this overlap a past incident is not "like" this one, however recent
PER_SERVICE = 200  # past incidents read per service
MAX_SERVICES = 10  # services of this incident looked up (the first ones: where it started)
LIMIT = 3


class IncidentHistory(Protocol):
    def incidents(
        self,
        status: str | None = None,
        service: str | None = None,
        since: float | None = None,
        limit: int = 100,
        offset: int = 0,
        with_members: bool = False,
    ) -> list[Incident]: ...

    def incident_timeline(self, incident_id: int, limit: int = 10_000) -> list[TimelineEntry]: ...


@dataclass(frozen=True, slots=True)
class Match:
    id: int
    title: str
    service: str
    services: tuple[str, ...]
    alertnames: tuple[str, ...]
    opened_at: float
    resolved_at: float | None
    status: str
    likeness: float  # the overlap, 0..1
    score: float  # likeness weighted by recency
    resolution: str = ""  # how it ended (the resolve note or who resolved it), for the top match

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "service": self.service,
            "services": list(self.services),
            "alertnames": list(self.alertnames),
            "opened_at": self.opened_at,
            "resolved_at": self.resolved_at,
            "status": self.status,
            "likeness": round(self.likeness, 3),
            "score": round(self.score, 3),
            "resolution": self.resolution,
        }


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    sa, sb = set(a), set(b)
    if not sa and not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)


def _names(inc: Incident) -> set[str]:
    return {m.alertname for m in inc.members.values() if m.alertname}


def likeness(a: Incident, b: Incident) -> float:
    services_a = set(a.services) | ({a.service} if a.service else set())
    services_b = set(b.services) | ({b.service} if b.service else set())
    return 0.5 * jaccard(services_a, services_b) + 0.5 * jaccard(_names(a), _names(b))


def rank(inc: Incident, candidates: Iterable[Incident], limit: int = LIMIT) -> list[Match]:
    """The past incidents (opened before this one) most like it, best first."""
    out = []
    for c in candidates:
        if c.id == inc.id or c.opened_at >= inc.opened_at:
            continue
        like = likeness(inc, c)
        if like < MIN_LIKENESS:
            continue
        age = max(0.0, inc.opened_at - c.opened_at)
        out.append(
            Match(
                c.id,
                c.title,
                c.service,
                tuple(c.services),
                tuple(sorted(_names(c))),
                c.opened_at,
                c.resolved_at,
                c.status.value,
                like,
                like * 0.5 ** (age / HALF_LIFE_S),
            )
        )
    out.sort(key=lambda m: (-m.score, -m.opened_at))
    return out[:limit]


def find(store: IncidentHistory, inc: Incident, limit: int = LIMIT) -> list[Match]:
    """Read the candidates (incidents about one of its services) and rank them; the best match says
    how it ended. Blocking: call it on the worker."""
    services = list(dict.fromkeys([inc.service, *inc.services]))
    candidates: dict[int, Incident] = {}
    for service in [s for s in services if s][:MAX_SERVICES]:
        for c in store.incidents(None, service, None, PER_SERVICE, 0, True):
            candidates.setdefault(c.id, c)
    found = rank(inc, candidates.values(), limit)
    if found:
        found[0] = _with_resolution(store, found[0])
    return found


def _with_resolution(store: IncidentHistory, m: Match) -> Match:
    """How the incident ended, from its timeline: the person's resolve note, else the last note."""
    entries = store.incident_timeline(m.id, 2_000)
    resolved = [e for e in entries if e.kind == "resolved"]
    notes = [e for e in entries if e.kind == "note"]
    text = ""
    if resolved and resolved[-1].actor != "vigil":
        text = resolved[-1].message.removeprefix("resolved: ")
    elif notes:
        text = f"last note ({notes[-1].actor}): {notes[-1].message}"
    return replace(m, resolution=_clip(text, 160))


def _clip(s: str, n: int) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"
