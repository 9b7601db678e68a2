"""Where a firing alert goes: into an incident already open for a related problem, back into one
that resolved moments ago (it came back), or a new incident.

Related means close in the service dependency graph (`services[].depends_on`): the same service, or
one within `max_hops` edges either way (a caller whose errors come from its callee; two callers of one
failing dependency), while the incident is active (an alert joined or changed within
`correlation_window`). An alert without a service correlates with open incidents of the same
alertname. Every placement says why, for the incident's timeline and the decision log."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vigil.incidents.model import Incident
from vigil.model import Alert


@dataclass(frozen=True, slots=True)
class Placement:
    incident: Incident | None  # None: open a new one
    rule: str  # new | same_service | dependency | same_alertname | reopened
    why: str


class ServiceGraph:
    """`depends_on` as a graph: caller -> callee edges, walked both ways for distance."""

    def __init__(self, depends_on: Mapping[str, Iterable[str]]) -> None:
        self.callees = {s: list(d) for s, d in depends_on.items()}
        self.near: dict[str, set[str]] = {}
        self._below: dict[str, set[str]] = {}
        for s, deps in self.callees.items():
            for d in deps:
                self.near.setdefault(s, set()).add(d)
                self.near.setdefault(d, set()).add(s)

    def path(self, a: str, b: str, max_hops: int) -> list[str] | None:
        """The shortest path a .. b within max_hops edges (undirected), or None."""
        if a == b:
            return [a]
        seen, todo = {a: ""}, deque([(a, 0)])
        while todo:
            node, hops = todo.popleft()
            if hops == max_hops:
                continue
            for nxt in sorted(self.near.get(node, ())):
                if nxt in seen:
                    continue
                seen[nxt] = node
                if nxt == b:
                    out = [b]
                    while out[-1] != a:
                        out.append(seen[out[-1]])
                    return out[::-1]
                todo.append((nxt, hops + 1))
        return None

    def within(self, service: str, max_hops: int) -> set[str]:
        """The services at most `max_hops` edges from `service` (either way), itself included."""
        seen, frontier = {service}, {service}
        for _ in range(max_hops):
            frontier = {n for f in frontier for n in self.near.get(f, ())} - seen
            seen |= frontier
        return seen

    def depends(self, caller: str, callee: str) -> bool:
        """Does `caller` depend on `callee`, directly or through others?"""
        below = self._below.get(caller)
        if below is None:  # every service `caller` reaches, walked once (the graph does not change)
            below, todo = set(), [caller]
            while todo:
                for d in self.callees.get(todo.pop(), ()):
                    if d not in below:
                        below.add(d)
                        todo.append(d)
            self._below[caller] = below
        return callee in below

    def most_upstream(self, services: list[str]) -> str:
        """The service the others depend on the most (a root cause is a callee, not a caller); ties
        keep the first seen."""
        def weight(s: str) -> int:
            return sum(1 for o in services if o != s and self.depends(o, s)) - \
                sum(1 for o in services if o != s and self.depends(s, o))
        return max(services, key=lambda s: (weight(s), -services.index(s))) if services else ""


class Correlator:
    def __init__(self, graph: ServiceGraph, window: float, reopen_window: float, max_hops: int) -> None:
        self.graph, self.window, self.reopen_window, self.max_hops = graph, window, reopen_window, max_hops

    def place(self, alert: Alert, incidents: Iterable[Incident], now: float) -> Placement:
        """Where a newly firing alert goes. An open incident in which something the alert's service
        depends on is failing now takes it first (the alert is that failure's symptom, even if the
        same alert fired in an incident of its own lately); then its own incident, reopened if it
        resolved within the reopen window; then the closest related open incident; else a new one."""
        candidates = list(incidents)
        best = self._closest_open(alert, candidates, now)
        if best is not None and self._upstream_failing(alert.service, best.incident):
            return best
        back = [inc for inc in candidates if not inc.open and alert.fingerprint in inc.members
                and inc.resolved_at is not None and now - inc.resolved_at <= self.reopen_window]
        if back:  # the same alert, back soon after its incident (the latest it was in) resolved
            inc = max(back, key=lambda i: (i.resolved_at or 0.0, i.id))
            return Placement(inc, "reopened", f"{alert.name} fired again {now - (inc.resolved_at or now):.0f} s after "
                                              f"incident {inc.id} resolved")
        if best is not None:
            return best
        return Placement(None, "new", f"no open incident related to {alert.service or alert.name}")

    def _closest_open(self, alert: Alert, candidates: list[Incident], now: float) -> Placement | None:
        best: tuple[tuple[int, float], Placement] | None = None
        for inc in candidates:
            if not inc.open or now - inc.updated_at > self.window:
                continue
            found = self._related(alert, inc)
            if found is None:
                continue
            rank = (-found[0], inc.updated_at)  # fewer hops first, then the most recently active
            if best is None or rank > best[0]:
                best = (rank, Placement(inc, found[1], found[2]))
        return best[1] if best is not None else None

    def _upstream_failing(self, service: str, inc: Incident | None) -> bool:
        """Does a service that `service` depends on have an alert firing in `inc`?"""
        return bool(service) and inc is not None and any(
            m.firing and m.service != service and self.graph.depends(service, m.service) for m in inc.members.values())

    def _related(self, alert: Alert, inc: Incident) -> tuple[int, str, str] | None:
        """(hops, rule, why) when the alert belongs with the incident."""
        service = alert.service
        if not service:
            if any(m.alertname == alert.name and not m.service for m in inc.members.values()):
                return 0, "same_alertname", f"another {alert.name} alert without a service is in it"
            return None
        if service in inc.services:
            return 0, "same_service", f"{service} already has alerts in it"
        best: list[str] | None = None
        for other in inc.services:
            path = self.graph.path(service, other, self.max_hops)
            if path is not None and (best is None or len(path) < len(best)):
                best = path
        if best is None:
            return None
        return len(best) - 1, "dependency", f"{' - '.join(best)} in the dependency graph"
