"""The incidents stage: the alert stream gathered into incidents, one per real problem.

Each firing alert is placed (`incidents.correlate`): into an open incident of a related service
(close in the dependency graph), back into one that resolved moments ago, or a new incident. A
resolved alert leaves its incident's firing set; when none is left the incident resolves, once that
has held for `resolve_after` (and, with a flapping alert in it, until that alert has been quiet for
the flapping window: incidents/flapping.py). People
acknowledge, assign, annotate and resolve incidents through the API: their requests arrive as
Commands in a pass, so every change happens here, in order, and is recorded (timeline entries,
decisions). Each alert of the pass is tagged with its incident (`Batch.incident_of`) for routing.

Open incidents, and those that resolved within `reopen_window`, are loaded at start: a restart
neither forgets an incident nor opens a second one for the same problem."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from vigil.clock import Clock
from vigil.config import VigilConfig
from vigil.incidents.correlate import Correlator, Placement, ServiceGraph
from vigil.incidents.escalation import Escalation
from vigil.incidents.facts import FactStore
from vigil.incidents.flapping import FlapTracker
from vigil.incidents.model import Incident, IncidentStatus, Member, TimelineEntry
from vigil.incidents.ranking import Ranking, suspects_view
from vigil.incidents.rootcause import RootCause
from vigil.incidents.summaries import Summaries
from vigil.model import Alert, Decision, Event, Severity
from vigil.pipeline import Batch, Command, Offload
from vigil.store.faces import IncidentReader, SeriesReader

log = logging.getLogger("vigil.incidents")

MAX_LOADED = 50_000
CLOSE_WAIT_S = 10.0
SETTLE_EVERY_S = 5.0  # how often flapping alerts are checked for having gone quiet


def title_of(inc: Incident) -> str:
    first = next(iter(inc.members.values()), None)  # the members in the order they joined
    head = f"{inc.service or 'unknown service'}: {first.alertname if first else 'incident'}"
    others = len(inc.members) - 1
    if others <= 0:
        return head
    where = [s for s in inc.services if s != inc.service]
    tail = f" on {', '.join(where)}" if where else ""
    return f"{head} and {others} more alert{'s' if others > 1 else ''}{tail}"


class IncidentStage:
    name = "incidents"

    def __init__(self, config: VigilConfig, store: IncidentReader, worker: Offload, clock: Clock,
                 ranker: RootCause | None = None) -> None:
        self.config, self.store, self.worker, self.clock = config, store, worker, clock
        cfg = config.incidents
        self.enabled = cfg.enabled
        self.graph = ServiceGraph({s.name: s.depends_on for s in config.services})
        self.correlator = Correlator(self.graph, cfg.correlation_window, cfg.reopen_window, cfg.max_hops)
        self.reopen_window = cfg.reopen_window
        self.resolve_after = cfg.resolve_after
        self.impact = {s.name: s.impact for s in config.services if s.impact != 1.0}
        self.flaps = FlapTracker(cfg.flapping.window, cfg.flapping.changes)
        self.recovering: dict[int, float] = {}  # open incidents with no firing alert -> since when
        self._settled_at = float("-inf")
        self.known: dict[int, Incident] = {}  # open ones, and resolved ones that may still reopen
        self.by_alert: dict[str, int] = {}  # fingerprint -> the incident it is (last) in
        self.next_id = 1
        self.opened = 0
        # root causes, ranked beside the pass from the stored evidence (None: the most upstream service)
        graph = {s.name: s.depends_on for s in config.services}
        self.ranking = Ranking(ranker, cast(SeriesReader, store), worker, graph) if ranker is not None else None
        # written beside the pass (the engine's store has the faces the evidence is read from)
        self.summaries = Summaries(config, cast(FactStore, store), worker)

    async def start(self) -> None:
        if not self.enabled:
            return
        since = self.clock.now() - self.reopen_window
        found = await self.worker.call(self.store.incidents, None, None, since, MAX_LOADED, 0, True)
        for inc in found:
            if inc.open or (inc.resolved_at is not None and inc.resolved_at >= since):
                self._keep(inc)
            if inc.open and inc.members and not inc.firing:  # it was recovering at the stop
                self.recovering[inc.id] = max(m.changed_at for m in inc.members.values())
        self.next_id = await self.worker.call(self.store.last_incident_id) + 1
        if self.known:
            log.info("%d incidents open or recently resolved at the last stop",
                     sum(1 for i in self.known.values() if i.open))

    async def close(self) -> None:
        """Jobs under way (a summary, a ranking) get a moment to end; what they found is redone after
        the restart (open incidents are summarised and ranked again), so nothing is lost."""
        jobs: list[asyncio.Future[Any]] = [asyncio.ensure_future(self.summaries.idle())]
        if self.ranking is not None:
            jobs += [p.job for p in self.ranking.plans.values() if p.job is not None]
        await asyncio.wait(jobs, timeout=CLOSE_WAIT_S)

    def incident_of(self, fingerprint: str) -> Incident | None:
        """The incident an alert is (last) in, while it is open or may still reopen."""
        return self.known.get(self.by_alert.get(fingerprint, -1))

    def _keep(self, inc: Incident) -> None:
        self.known[inc.id] = inc
        for fp in inc.members:
            self.by_alert[fp] = inc.id

    # ------------------------------------------------------------------------------ the pass

    async def run(self, batch: Batch) -> None:
        if not self.enabled:
            return
        changed: dict[int, Incident] = {}
        for alert in batch.alerts:
            inc = self._firing(alert, batch) if alert.firing else self._resolved(alert, batch)
            if inc is not None:
                changed[inc.id] = inc
                batch.incident_of[alert.fingerprint] = inc.id
        for cmd in batch.commands:
            if cmd.target == self.name:
                inc = self._command(cmd, batch)
                if inc is not None:
                    changed[inc.id] = inc
        self._settle(batch, changed)
        self._rank(batch, changed)
        for inc in changed.values():
            inc.title = title_of(inc)
        batch.incidents.extend(changed.values())
        self._forget(batch.now)
        await self._escalate(batch)
        self._summarise(batch)

    def _firing(self, alert: Alert, batch: Batch) -> Incident:
        now = batch.now
        current = self.known.get(self.by_alert.get(alert.fingerprint, -1))
        if current is not None and current.open and alert.fingerprint in current.members:
            member = current.members[alert.fingerprint]  # it fired again inside its open incident
            current.mark(member, True, now)
            batch.members.append(member)
            self._flapped(current, alert, batch)
            if self.recovering.pop(current.id, None) is not None:
                self._entry(batch, current, "recovery_broken",
                            f"{alert.name} on {alert.service or '?'} fired again before the recovery held")
            return current
        placement = self.correlator.place(alert, self.known.values(), now)
        inc = placement.incident
        if inc is None:
            inc = self._open(alert, now, batch)
        elif placement.rule == "reopened":
            self._reopen(inc, alert, now, batch)
        joined = alert.service and alert.service not in inc.services
        member = inc.add(alert, now, placement.why, self.impact)
        if placement.rule == "reopened":
            self._flapped(inc, alert, batch)
        self.by_alert[alert.fingerprint] = inc.id
        if self.ranking is not None and (joined or placement.incident is None):
            self.ranking.want(inc, now)
        batch.members.append(member)
        if inc.root_causes:
            inc.service = inc.root_causes[0]["service"]
        elif joined or placement.incident is None or not inc.service:  # a function of `services` alone
            inc.service = self.graph.most_upstream(inc.services)
        self._entry(batch, inc, "alert_joined", f"{alert.name} on {alert.service or '?'} joined: {placement.why}",
                    fingerprint=alert.fingerprint, rule=placement.rule)
        self._decide(batch, inc, alert, placement)
        return inc

    def _open(self, alert: Alert, now: float, batch: Batch) -> Incident:
        inc = Incident(self.next_id, "", IncidentStatus.OPEN, alert.severity, alert.service, now, now)
        self.next_id += 1
        self.opened += 1
        self.known[inc.id] = inc
        self._entry(batch, inc, "opened", f"opened by {alert.name} on {alert.service or '?'}: {alert.summary}",
                    fingerprint=alert.fingerprint)
        batch.events.append(Event(now, "incident", alert.service or None,
                                  f"incident {inc.id} opened: {alert.service or '?'}: {alert.name}",
                                  {"incident": inc.id, "fingerprint": alert.fingerprint}))
        return inc

    def _reopen(self, inc: Incident, alert: Alert, now: float, batch: Batch) -> None:
        inc.status, inc.resolved_at, inc.resolved_by = IncidentStatus.OPEN, None, None
        inc.acknowledged_at = inc.acknowledged_by = None
        inc.reopened += 1
        self._entry(batch, inc, "reopened", f"reopened: {alert.name} on {alert.service or '?'} fired again")
        batch.events.append(Event(now, "incident", inc.service or None, f"incident {inc.id} reopened",
                                  {"incident": inc.id, "fingerprint": alert.fingerprint}))

    def _resolved(self, alert: Alert, batch: Batch) -> Incident | None:
        inc = self.known.get(self.by_alert.get(alert.fingerprint, -1))
        if inc is None or alert.fingerprint not in inc.members:
            return None
        member = inc.members[alert.fingerprint]
        if not member.firing:
            return None
        inc.mark(member, False, batch.now)
        batch.members.append(member)
        inc.updated_at = batch.now
        self._entry(batch, inc, "alert_resolved", f"{alert.name} on {alert.service or '?'} resolved: "
                    f"{alert.annotations.get('resolution', '')}", fingerprint=alert.fingerprint)
        self._flapped(inc, alert, batch)
        if inc.open and not inc.firing_count:
            hold = self._hold(inc)
            if hold <= 0:
                self._resolve(inc, batch, None, "all its alerts resolved")
            else:
                self.recovering[inc.id] = batch.now
                self._entry(batch, inc, "recovering", f"all its alerts resolved; it resolves if that holds for "
                            f"{hold:g}s" + (" (a flapping alert in it must go quiet)" if self._flapping(inc) else ""))
        return inc

    # ------------------------------------------------------------------------------ recovery and flapping

    def _flapping(self, inc: Incident) -> list[str]:
        return [fp for fp in inc.members if fp in self.flaps.flapping]

    def _hold(self, inc: Incident) -> float:
        """How long a recovery must hold before the incident resolves."""
        return max(self.resolve_after, self.flaps.window if self._flapping(inc) else 0.0)

    def _flapped(self, inc: Incident, alert: Alert, batch: Batch) -> None:
        """Count the alert's state change; the change that makes it flapping is recorded."""
        if not self.flaps.changed(alert.fingerprint, batch.now):
            return
        window, n = self.flaps.window, self.flaps.count(alert.fingerprint)
        self._entry(batch, inc, "flapping", f"{alert.name} on {alert.service or '?'} is flapping: {n} state changes "
                    f"in {window:g}s; the incident stays open until it is quiet for {window:g}s",
                    fingerprint=alert.fingerprint)
        batch.decisions.append(Decision(batch.now, "incident", str(inc.id), "flapping",
                                        {"fingerprint": alert.fingerprint, "changes": n, "window_s": window},
                                        {"hold_s": self._hold(inc)}))

    def _settle(self, batch: Batch, changed: dict[int, Incident]) -> None:
        """Recoveries that held resolve their incidents (a tick runs this even when nothing arrives)."""
        if batch.now - self._settled_at >= SETTLE_EVERY_S:
            self._settled_at = batch.now
            for fp in self.flaps.settle(batch.now):
                inc = self.incident_of(fp)
                if inc is not None and inc.open:
                    self._entry(batch, inc, "flapping_stopped", f"alert {fp} stopped flapping", fingerprint=fp)
                    changed[inc.id] = inc
        for inc_id, since in list(self.recovering.items()):
            inc = self.known.get(inc_id)
            if inc is None or not inc.open or inc.firing_count:
                del self.recovering[inc_id]
                continue
            hold = self._hold(inc)
            if batch.now - since >= hold:
                del self.recovering[inc_id]
                self._resolve(inc, batch, None, f"all its alerts resolved and that held for {hold:g}s")
                changed[inc.id] = inc

    def _resolve(self, inc: Incident, batch: Batch, by: str | None, why: str) -> None:
        inc.status, inc.resolved_at, inc.resolved_by, inc.updated_at = IncidentStatus.RESOLVED, batch.now, by, batch.now
        self._entry(batch, inc, "resolved", f"resolved: {why}", actor=by or "vigil")
        batch.events.append(Event(batch.now, "incident", inc.service or None, f"incident {inc.id} resolved: {why}",
                                  {"incident": inc.id, "by": by}))
        batch.decisions.append(Decision(batch.now, "incident", str(inc.id), "resolved",
                                        {"by": by, "firing_alerts": inc.firing_count}, {"status": "resolved"}))

    def _rank(self, batch: Batch, changed: dict[int, Incident]) -> None:
        """Take finished rankings into their incidents; start the ones due."""
        if self.ranking is None:
            return
        for inc_id, suspects in self.ranking.finished():
            inc = self.known.get(inc_id)
            if inc is None or not suspects:
                continue
            before = inc.root_causes[0]["service"] if inc.root_causes else None
            inc.root_causes = suspects_view(suspects)
            top = suspects[0]
            inc.service, inc.updated_at = top.service, batch.now
            changed[inc.id] = inc
            if top.service != before:
                self._entry(batch, inc, "root_cause", f"probable root cause: {top.why}",
                            ranking=[s["service"] for s in inc.root_causes])
            batch.decisions.append(Decision(
                batch.now, "root_cause", str(inc.id), "shift_ranker",
                {"services": list(inc.services), "start": inc.opened_at},
                {"ranking": inc.root_causes}))
        self.ranking.start_due(self.known, batch.now)

    def _forget(self, now: float) -> None:
        """Resolved incidents past their reopen window leave memory (they stay in the store)."""
        for inc in [i for i in self.known.values() if not i.open and (i.resolved_at or now) < now - self.reopen_window]:
            del self.known[inc.id]
            for fp in inc.members:
                if self.by_alert.get(fp) == inc.id:
                    del self.by_alert[fp]

    async def _escalate(self, batch: Batch) -> None:
        """Escalation policies over the incidents (incidents/escalation.py): the levels due now as
        notices for the outbox, an `escalated` line each, and where each stands kept on the incident
        (recorded with it), so a restart neither forgets a level nor pages one twice."""
        if not hasattr(self, "escalation"):  # made at the first pass: it reads (or makes) the link secret
            self.escalation = await Escalation.start(self.config, self.store, self.worker)
        recorded = {inc.id for inc in batch.incidents}
        for inc in list(self.known.values()):
            step = self.escalation.step(inc, batch.now)
            if step is None:
                continue
            inc.escalation = step.state
            batch.notices.extend(step.notices)
            batch.decisions.extend(step.decisions)
            for kind, message, data in step.entries:
                self._entry(batch, inc, kind, message, **data)
            if inc.id not in recorded:
                batch.incidents.append(inc)
    def _summarise(self, batch: Batch) -> None:
        """Summaries written beside the pass (`incidents.summaries`): the incidents that changed in this
        pass are due (debounced per incident), and what a finished job wrote is taken in here."""
        if not self.summaries.enabled:
            return
        self.summaries.changed(batch.incidents, batch.now)
        for written in self.summaries.take():
            inc = self.known.get(written.incident)
            if inc is not None and inc.summary != written.text:
                inc.summary = written.text
                if all(i is not inc for i in batch.incidents):
                    batch.incidents.append(inc)
        self.summaries.start(self.known, batch.now)

    # ------------------------------------------------------------------------------ people

    def _command(self, cmd: Command, batch: Batch) -> Incident | None:
        inc = self.known.get(int(cmd.args.get("id", -1)))
        if inc is None:
            cmd.refused(KeyError(f"no incident {cmd.args.get('id')} is open or recently resolved"))
            return None
        handler = _COMMANDS.get(cmd.action)
        if handler is None:
            cmd.refused(ValueError(f"unknown action {cmd.action!r}; known: {', '.join(_COMMANDS)}"))
            return None
        try:
            handler(self, inc, cmd, batch)
        except ValueError as exc:
            cmd.refused(exc)
            return None
        inc.updated_at = batch.now
        cmd.handled(inc)
        return inc

    def _acknowledge(self, inc: Incident, cmd: Command, batch: Batch) -> None:
        if not inc.open:
            raise ValueError(f"incident {inc.id} is resolved; nothing to acknowledge")
        if inc.status is IncidentStatus.ACKNOWLEDGED:
            return  # acknowledging twice changes nothing
        inc.status, inc.acknowledged_at, inc.acknowledged_by = IncidentStatus.ACKNOWLEDGED, batch.now, cmd.actor
        self._entry(batch, inc, "acknowledged", f"acknowledged by {cmd.actor}", actor=cmd.actor)

    def _resolve_cmd(self, inc: Incident, cmd: Command, batch: Batch) -> None:
        if not inc.open:
            return
        note = str(cmd.args.get("note") or "")[:2000]
        self._resolve(inc, batch, cmd.actor, f"by {cmd.actor}" + (f": {note}" if note else ""))

    def _assign(self, inc: Incident, cmd: Command, batch: Batch) -> None:
        who = str(cmd.args.get("assignee") or "").strip()[:200]
        if not who:
            raise ValueError("assignee is required")
        inc.assignee = who
        self._entry(batch, inc, "assigned", f"assigned to {who} by {cmd.actor}", actor=cmd.actor, assignee=who)

    def _note(self, inc: Incident, cmd: Command, batch: Batch) -> None:
        text = str(cmd.args.get("text") or "").strip()
        if not text:
            raise ValueError("a note needs text")
        if len(text) > 10_000:
            raise ValueError(f"a note has at most 10000 characters; found {len(text)}")
        self._entry(batch, inc, "note", text, actor=cmd.actor)

    # ------------------------------------------------------------------------------ the record

    @staticmethod
    def _entry(batch: Batch, inc: Incident, kind: str, message: str, actor: str = "vigil", **data: Any) -> None:
        batch.timeline.append(TimelineEntry(inc.id, batch.now, kind, message, actor, data))

    @staticmethod
    def _decide(batch: Batch, inc: Incident, alert: Alert, placement: Placement) -> None:
        batch.decisions.append(Decision(
            batch.now, "incident", str(inc.id), placement.rule,
            {"alert": alert.labels, "fingerprint": alert.fingerprint, "why": placement.why,
             "incident_services": list(inc.services)},
            {"incident": inc.id, "status": inc.status.value, "severity": Severity(inc.severity).value}))


_COMMANDS = {"acknowledge": IncidentStage._acknowledge, "resolve": IncidentStage._resolve_cmd,
             "assign": IncidentStage._assign, "note": IncidentStage._note}


def members_of(inc: Incident) -> list[Member]:
    return sorted(inc.members.values(), key=lambda m: m.joined_at)
