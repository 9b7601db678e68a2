"""When an incident's root causes are ranked, and the jobs that rank them beside the engine's pass.

An incident is ranked a while after it opens (the ranker compares each series after the start with
its own history before it, so it needs a few samples after), again later when more has been seen,
and again when a new service joins it. A ranking reads the store (`incidents.evidence`) and runs on
the engine's worker, never on the event loop; the pass after it finished takes its suspects
(`incidents.stages` applies them). One job at a time per incident."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from vigil.incidents.evidence import Reads, read_evidence, scope, services_in_store
from vigil.incidents.model import Incident
from vigil.incidents.rootcause import IncidentView, RootCause, Suspect
from vigil.pipeline import Offload
from vigil.store.faces import SeriesReader

log = logging.getLogger("vigil.incidents")

RANK_AFTER_S = (60.0, 300.0)  # after the incident opens (or a service joins): a first look, then a settled one


@dataclass
class _Plan:
    start: float
    due: list[float] = field(default_factory=list)
    job: asyncio.Future[list[Suspect]] | None = None


class Ranking:
    def __init__(self, ranker: RootCause, store: SeriesReader, worker: Offload,
                 depends_on: Mapping[str, Sequence[str]], reads: Reads = Reads()) -> None:
        self.ranker, self.store, self.worker, self.reads = ranker, store, worker, reads
        self.depends_on = {s: list(d) for s, d in depends_on.items()}
        self.plans: dict[int, _Plan] = {}

    def want(self, inc: Incident, now: float) -> None:
        """Rank `inc` soon: it opened, or a service joined it."""
        plan = self.plans.setdefault(inc.id, _Plan(inc.opened_at))
        plan.due = sorted({*plan.due, *(now + d for d in RANK_AFTER_S)})

    def start_due(self, known: Mapping[int, Incident], now: float) -> None:
        for inc_id, plan in list(self.plans.items()):
            inc = known.get(inc_id)
            if inc is None or not inc.open:
                if plan.job is None:
                    del self.plans[inc_id]
                continue
            if plan.job is None and plan.due and plan.due[0] <= now:
                plan.due = [t for t in plan.due if t > now]
                view = IncidentView(tuple(inc.services), plan.start, ())
                plan.job = asyncio.ensure_future(self.worker.call(self._rank, view))

    def finished(self) -> list[tuple[int, list[Suspect]]]:
        out = []
        for inc_id, plan in list(self.plans.items()):
            if plan.job is None or not plan.job.done():
                continue
            job, plan.job = plan.job, None
            try:
                out.append((inc_id, job.result()))
            except Exception:
                log.exception("ranking the root causes of incident %d failed; the next try is at its next due", inc_id)
            if not plan.due:
                del self.plans[inc_id]
        return out

    def _rank(self, view: IncidentView) -> list[Suspect]:
        """Blocking (store reads): on the worker."""
        services = scope(view.services, self.depends_on, services_in_store(self.store))
        evidence = read_evidence(self.store, view.start, services, self.depends_on, self.reads)
        return self.ranker.rank(view, evidence)


def suspects_view(suspects: Sequence[Suspect], top: int = 5) -> list[dict[str, object]]:
    """What an incident keeps of a ranking: the first few suspects, each with its score and why."""
    return [{"service": s.service, "score": round(float(s.score), 4), "why": s.why,
             "anomalous_callers": list(s.anomalous_callers), "anomalous_callees": list(s.anomalous_callees)}
            for s in suspects[:top]]
