"""Root-cause ranking: which service of an incident probably caused it, and why.

The plug point is `RootCause.rank(incident, evidence) -> [Suspect, ...]`, best first. vigil's ranker,
`ShiftRanker`, calibrates itself on each series' own history and has no setting per system or fault:

1. every series of every service in scope gets a step score at the start (`shift.py`: median after
   vs just before, in units of its own historical spread);
2. a service's anomaly is the sum over its series of `1 - exp(-|z| / saturation)`: how many of its
   series clearly moved (each counts at most once);
3. with a dependency graph, a personalised random walk moves blame from anomalous callers to the
   anomalous services they call (`graph.py`); without one, the anomaly is the ranking;
4. three views of the evidence are ranked so (`VIEWS`): that count; the count with each series
   weighed by its `rarity` (a level its own history seldom reached); the count with each series
   discounted by the share of the services in scope where series of the same metric name moved (a
   kind of series that moved everywhere does not say where). Their rankings are fused by reciprocal
   rank (`FUSE_K`).

Its settings (`RankSettings`) were chosen by leave-one-system-out cross-validation on recorded faults
(`vigil bench rca`, docs/rca.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from vigil.incidents.evidence import Evidence, Reads
from vigil.incidents.graph import walk
from vigil.incidents.shift import Shift, shift_of
from vigil.model import Alert

WHY_SERIES = 3  # series named in a suspect's explanation
VIEWS = ("count", "rare", "distinct")  # the evidence views whose rankings are fused (see anomalies)
FUSE_K = 5  # reciprocal rank fusion: a view's place p adds 1 / (FUSE_K + p)


@dataclass(frozen=True)
class IncidentView:
    """What a ranker knows of the incident itself: the services involved, when it started, its alerts."""

    services: tuple[str, ...]
    start: float
    alerts: tuple[Alert, ...] = ()


@dataclass(frozen=True)
class Suspect:
    """One probable root cause: `score` (higher is likelier; comparable within one ranking only), a
    human `why`, the series that moved (`shifts`, strongest first), and where it sits in the graph."""

    service: str
    score: float
    why: str
    anomaly: float = 0.0
    shifts: tuple[Shift, ...] = ()
    anomalous_callers: tuple[str, ...] = ()
    anomalous_callees: tuple[str, ...] = ()


class RootCause(Protocol):
    """Ranks the services of an incident from stored evidence, most probable root cause first."""

    def rank(self, incident: IncidentView, evidence: Evidence) -> list[Suspect]: ...


@dataclass(frozen=True)
class RankSettings:
    """`history_samples`: samples before the start a series is judged against; `saturation`: the step
    (in spreads) at which a series counts as ~63 % of one piece of evidence; `back`, `stay`, `damping`,
    `prior`: the graph walk (graph.py); `reads`: how much of each series evidence holds (evidence.py; the window
    after the start is the protocol, not a tuned setting)."""

    history_samples: int = 120
    saturation: float = 10.0
    back: float = 0.5
    stay: str = "own"
    damping: float = 0.85
    prior: float = 1.0
    reads: Reads = field(default_factory=Reads)

    def judged(self) -> Reads:
        """The reads this ranking judges on (its own history length)."""
        return replace(self.reads, history_samples=self.history_samples)

    def with_(self, **changes: object) -> RankSettings:
        return replace(self, **changes)  # type: ignore[arg-type]


def series_shifts(evidence: Evidence, settings: RankSettings) -> dict[str, list[Shift]]:
    """Every service's series steps at the start (strongest first); the expensive half of a ranking."""
    out: dict[str, list[Shift]] = {}
    reads = settings.judged()
    for service, windows in evidence.series.items():
        found = [shift_of(w, evidence.start, reads, settings.saturation) for w in windows]
        out[service] = sorted((s for s in found if s is not None), key=lambda s: -abs(s.z))
    return out


@dataclass
class ShiftRanker:
    """vigil's root-cause ranker (see the module's docstring)."""

    settings: RankSettings = field(default_factory=RankSettings)

    def rank(self, incident: IncidentView, evidence: Evidence) -> list[Suspect]:
        """Ranks every service of the evidence (read for the incident's scope, see evidence.scope)."""
        return self.rank_shifts(series_shifts(evidence, self.settings), evidence.depends_on, evidence.start)

    def rank_shifts(self, shifts: Mapping[str, Sequence[Shift]], depends_on: Mapping[str, Sequence[str]],
                    start: float) -> list[Suspect]:
        """The cheap half: anomaly per service and view, the walk, the fusion, from computed shifts."""
        s = self.settings
        views = anomalies(shifts, s.saturation)
        anomaly = views["count"]
        graph = {caller: list(callees) for caller, callees in depends_on.items()}
        has_graph = any(graph.values())
        score = {svc: 0.0 for svc in anomaly}
        for name in VIEWS:
            ranked = views[name]  # without a graph the anomaly is the ranking
            if has_graph:
                ranked = walk(ranked, graph, back=s.back, stay=s.stay, damping=s.damping, prior=s.prior)
            for place, svc in enumerate(sorted(ranked, key=lambda v: (-ranked[v], -anomaly[v], v)), 1):
                score[svc] += 1.0 / (FUSE_K + place)
        callers: dict[str, list[str]] = {}
        for caller, callees in graph.items():
            for callee in callees:
                callers.setdefault(callee, []).append(caller)
        moved = {svc for svc, found in shifts.items() if any(clear(x, s) for x in found)}
        suspects = []
        for svc in sorted(score, key=lambda v: (-score[v], -anomaly[v], v)):
            up = tuple(sorted(c for c in callers.get(svc, ()) if c in moved))
            down = tuple(sorted(c for c in graph.get(svc, ()) if c in moved))
            found = tuple(shifts.get(svc, ()))
            why = explain(svc, found, anomaly[svc], up, down, start, s, has_graph)
            suspects.append(Suspect(svc, score[svc], why, anomaly[svc], found[:WHY_SERIES], up, down))
        return suspects


def anomalies(shifts: Mapping[str, Sequence[Shift]], saturation: float) -> dict[str, dict[str, float]]:
    """Each service's anomaly in each view (`VIEWS`): `count`, the sum of its series' weights; `rare`,
    each weight times the series' rarity; `distinct`, each weight times one minus the share of the
    services in scope whose series of that metric name moved (the sum of those weights over services,
    divided by the number of services)."""
    weights = {svc: [(x, x.weight(saturation)) for x in found] for svc, found in shifts.items()}
    moved_by_metric: dict[str, float] = {}
    for found in weights.values():
        for x, w in found:
            moved_by_metric[x.metric] = moved_by_metric.get(x.metric, 0.0) + w
    n = max(len(weights), 1)
    out: dict[str, dict[str, float]] = {name: {} for name in VIEWS}
    for svc, found in weights.items():
        out["count"][svc] = sum(w for _, w in found)
        out["rare"][svc] = sum(w * x.rarity for x, w in found)
        out["distinct"][svc] = sum(w * max(1.0 - moved_by_metric[x.metric] / n, 0.0) for x, w in found)
    return out


def clear(shift: Shift, settings: RankSettings) -> bool:
    """A series moved clearly: its step counts as at least half a piece of evidence (|z| >= 0.69 x
    saturation)."""
    return shift.weight(settings.saturation) >= 0.5


def explain(service: str, shifts: Sequence[Shift], anomaly: float, callers: Sequence[str],
            callees: Sequence[str], start: float, settings: RankSettings, has_graph: bool) -> str:
    """One readable paragraph: which series moved, how much, when, against what history; how many of
    its series moved clearly; where it sits in the graph."""
    if not shifts:
        text = f"{service}: no series with enough history and a sample after the start"
    else:
        parts = []
        for x in shifts[:WHY_SERIES]:
            when = f", first at +{x.first_moved - start:.0f} s" if x.first_moved is not None else ""
            seen = ("a level new to that history" if x.rarity >= 1.0
                    else f"a level that history had reached before: rarity {x.rarity:.2f}")
            parts.append(f"{x.series} went from {x.before:.4g} to {x.after:.4g} ({x.z:+.1f} x its usual "
                         f"spread of {x.spread:.3g} over its last {x.history} samples{when}; {seen})")
        clearly = sum(1 for x in shifts if clear(x, settings))
        text = (f"{service}: largest steps at the start: " + "; ".join(parts)
                + f". {clearly} of its {len(shifts)} series moved clearly")
    text += f" (anomaly {anomaly:.2f})."
    if has_graph:
        if callers:
            text += f" Anomalous callers it would explain: {', '.join(callers)}."
        if callees:
            text += f" It calls anomalous {', '.join(callees)}, which may explain it instead."
        if not callers and not callees:
            text += " No anomalous neighbour in the dependency graph."
    return text


@dataclass
class FakeRootCause:
    """A scripted ranker for tests: `order` first (those in the incident), then the incident's other
    services in their given order; it reads no evidence."""

    order: Sequence[str] = ()
    calls: list[IncidentView] = field(default_factory=list)

    def rank(self, incident: IncidentView, evidence: Evidence) -> list[Suspect]:
        self.calls.append(incident)
        names = [s for s in self.order if s in incident.services]
        names += [s for s in incident.services if s not in names]
        return [Suspect(s, float(len(names) - i), f"{s}: scripted") for i, s in enumerate(names)]
