"""The remediate stage (after incidents, before scale): runbooks matched against the incidents and
alerts of the pass, each match through the guard rails, and each action a persisted state machine
(heal/ledger.py). Decisions are taken inside the pass; steps run beside it (a task per action, at
most one per service) and the pass after they finished takes their outcome. Verification is
tick-driven: every pass looks at the service's probes and metric until the steady state has held
for `verify.for`, or its deadline passes (then rollback and escalation). docs/healing.md."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

from vigil.breaker import Breakers
from vigil.clock import Clock
from vigil.config import VigilConfig
from vigil.config.runbooks import Runbook
from vigil.heal import guards
from vigil.heal.actions import ActionContext, Teller
from vigil.heal.actions.flow import steady
from vigil.heal.execute import DONE, PAUSED, mark_interrupted, run_steps
from vigil.heal.ledger import (
    APPROVED,
    DENIED,
    ESCALATED,
    EXPIRED,
    FAILED,
    PENDING,
    ROLLED_BACK,
    ROLLING_BACK,
    RUNNING,
    STEP_RUNNING,
    SUCCEEDED,
    VERIFYING,
    ActionRecord,
    ActionStore,
    StepRecord,
)
from vigil.heal.triggers import Match, matches
from vigil.heal.windows import MaintenanceBook, WindowStore
from vigil.incidents.correlate import ServiceGraph
from vigil.incidents.model import Incident, TimelineEntry
from vigil.model import Decision, Event, Health, Severity
from vigil.pipeline import Batch, Command, Offload

log = logging.getLogger("vigil.remediate")

HISTORY_S = 86400.0  # actions loaded at start: enough for every cooldown and attempt window
CLOSE_WAIT_S = 10.0


class NeverPaused:
    def is_paused(self) -> bool:
        return False


@dataclass
class _Verifying:
    since: float | None = None  # when the steady state started holding


class RemediateStage:
    name = "remediate"

    def __init__(self, config: VigilConfig, store: ActionStore, writer: Offload, clock: Clock, incidents: Any,
                 book: Any, health: Any, actuators: Mapping[str, Any], audit: guards.AuditSink | None = None,
                 switch: guards.KillSwitch | None = None, teller: Teller | None = None,
                 config_windows: Callable[[], Any] | None = None, breakers: Breakers | None = None) -> None:
        self.config, self.store, self.writer, self.clock = config, store, writer, clock
        self.incidents, self.book, self.health = incidents, book, health
        self.actuators = dict(actuators)
        self.audit, self.switch, self.teller = audit, switch or NeverPaused(), teller
        self.breakers = breakers  # steps' calls out: `actuator:SERVICE`, `runbook:URL-ORIGIN` (docs/guardrails.md)
        self.notes: list[tuple[int | None, float, str]] = []  # notify steps' lines for the timeline
        self.runbooks = {rb.name: rb for rb in config.runbooks}
        self.enabled = config.remediation.enabled and bool(self.runbooks)
        self.labels = {s.name: dict(s.labels) for s in config.services}
        self.graph = ServiceGraph({s.name: s.depends_on for s in config.services})  # what is whose symptom
        self.actions: dict[int, ActionRecord] = {}  # the recent ones (guards read them) and the unfinished
        self.jobs: dict[int, asyncio.Task[str]] = {}
        self.verifying: dict[int, _Verifying] = {}
        self.seen_since: dict[str, float] = {}  # match key -> first seen (for `for:`)
        self.shadowed: set[str] = set()  # match keys recorded in shadow mode
        self.refused: dict[str, str] = {}  # match key -> the last guard that refused it (recorded once)
        windows = store if hasattr(store, "open_maintenance") else None
        self.maintenance = MaintenanceBook(cast(WindowStore | None, windows), writer, config_windows)
        self.latest: dict[str, float] = {}
        self.watched = {n for rb in self.runbooks.values() for n in _metric_names(rb)}
        self.next_id = 1

    # ------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if not self.enabled:
            return
        now = self.clock.now()
        found = await self.writer.call(self.store.actions, None, None, now - HISTORY_S, 10_000)
        found += await self.writer.call(self.store.actions, "unfinished", None, None, 10_000)
        for a in found:
            self.actions[a.id] = a
        self.next_id = await self.writer.call(self.store.last_action_id) + 1
        await self.maintenance.load(now)  # the windows runbooks opened survive a restart
        for a in [a for a in self.actions.values() if not a.finished]:
            await self._reconcile(a, now)

    async def _reconcile(self, a: ActionRecord, now: float) -> None:
        """An action vigil stopped in: finish its steps, verify it, or roll it back; never repeat a step."""
        for step in mark_interrupted(a, now):
            await self._save_step(step)
            a.story.append(f"{step.phase}[{step.index}] {step.kind}: interrupted by a stop of vigil; not run again")
        if a.runbook not in self.runbooks:
            a.state, a.finished_at, a.outcome = ESCALATED, now, f"runbook {a.runbook} is no longer configured"
            await self._save(a)
            return
        if a.state == PENDING and not self.config.remediation.resolve(self.runbooks[a.runbook].guards).approval:
            # Stopped between writing it and approving it: nobody is asked to approve it, so vigil does
            # (left pending it would wait for an approval that is never asked for, then lapse).
            a.decided_by = "vigil"
            a.move(APPROVED, now, "no approval required (found pending at start: vigil stopped before approving it)")
            await self._save(a)
        if a.state in (RUNNING, ROLLING_BACK):
            self._launch(a)
        elif a.state == VERIFYING:
            self.verifying[a.id] = _Verifying()
        log.info("action %d (%s on %s) found %s at start: reconciling", a.id, a.runbook, a.service, a.state)

    async def close(self) -> None:
        """Jobs under way get a moment; one cut short keeps its `running` step, reconciled at the next start."""
        if self.jobs:
            _, late = await asyncio.wait(list(self.jobs.values()), timeout=CLOSE_WAIT_S)
            for job in late:
                job.cancel()
            await asyncio.gather(*self.jobs.values(), return_exceptions=True)

    # ------------------------------------------------------------------------------ the pass

    async def run(self, batch: Batch) -> None:
        if not self.enabled:
            return
        now = batch.now
        for s in batch.samples:
            if s.key.name in self.watched:
                self.latest[str(s.key)] = s.value
        for cmd in batch.commands:
            if cmd.target == self.name:
                await self._command(cmd, batch)
        notes, self.notes[:] = list(self.notes), []  # in place: running steps hold this list
        for incident, ts, text in notes:
            if incident is not None:
                batch.timeline.append(TimelineEntry(incident, ts, "action", text, "vigil", {"notify": True}))
        for a in [a for a in self.actions.values() if not a.finished]:
            await self._advance(a, batch)
        await self._match(batch)
        self._forget(now)
        await self.maintenance.forget(now)

    async def _advance(self, a: ActionRecord, batch: Batch) -> None:
        now = batch.now
        job = self.jobs.get(a.id)
        if job is not None:
            if not job.done():
                return
            del self.jobs[a.id]
            ended = job.result() if not job.cancelled() and job.exception() is None else "failed"
            if ended == "failed" and not job.cancelled() and job.exception() is not None:
                log.error("action %d: its steps raised", a.id, exc_info=job.exception())
            await self._after_job(a, ended, batch)
            return
        if a.state == PENDING and a.expires_at is not None and now >= a.expires_at:
            await self._move(a, EXPIRED, batch, "approval lapsed: nobody approved it in time")
        elif a.state == PENDING and not self._incident_open(a):
            await self._move(a, EXPIRED, batch, "its incident resolved before anyone approved it")
        elif a.state == APPROVED and not self.switch.is_paused():
            await self._move(a, RUNNING, batch, "started")
            self._launch(a)
        elif a.state == VERIFYING:
            await self._verify(a, batch)

    async def _after_job(self, a: ActionRecord, ended: str, batch: Batch) -> None:
        rb = self.runbooks[a.runbook]
        if a.state == RUNNING:
            if ended == DONE:
                a.verify_started_at, a.verify_deadline = batch.now, batch.now + rb.verify.within
                self.verifying[a.id] = _Verifying()
                await self._move(a, VERIFYING, batch, "steps done; verifying")
            elif ended == PAUSED:
                await self._escalate(a, ESCALATED, batch, "automation paused mid-action; remaining steps not run")
            else:
                await self._roll_back(a, batch, "a step failed")
        elif a.state == ROLLING_BACK:
            if ended == DONE:
                await self._escalate(a, ROLLED_BACK, batch, "rolled back")
            else:
                await self._escalate(a, FAILED, batch, "rollback did not complete")

    async def _verify(self, a: ActionRecord, batch: Batch) -> None:
        rb, now = self.runbooks[a.runbook], batch.now
        state = self.verifying.setdefault(a.id, _Verifying())
        ok, seen = steady(rb.verify.probes_healthy, rb.verify.metric, self._context(a))
        if ok:
            state.since = now if state.since is None else state.since
            if now - state.since >= rb.verify.for_:
                del self.verifying[a.id]
                await self._audit_verification(a, True, seen, now)
                await self._move(a, SUCCEEDED, batch, f"verified: steady for {rb.verify.for_:g}s ({seen})")
            return
        state.since = None
        if a.verify_deadline is not None and now >= a.verify_deadline:
            del self.verifying[a.id]
            await self._audit_verification(a, False, seen, now)
            await self._roll_back(a, batch, f"not verified within {rb.verify.within:g}s; last seen: {seen}")

    async def _audit_verification(self, a: ActionRecord, held: bool, seen: str, now: float) -> None:
        v = self.runbooks[a.runbook].verify
        await self._audit("vigil", "action.verification", f"action {a.id} ({a.runbook}): steady state "
                          + (f"held for {v.for_:g}s" if held else f"not reached within {v.within:g}s"),
                          {"action": a.id, "runbook": a.runbook, "key": a.key,
                           "verify": v.model_dump(mode="json", by_alias=True)},
                          {"held": held, "seen": seen}, a.incident, a.service, now - (a.verify_started_at or now))

    async def _roll_back(self, a: ActionRecord, batch: Batch, why: str) -> None:
        if not self.runbooks[a.runbook].rollback:
            await self._escalate(a, ESCALATED, batch, f"{why}; no rollback steps")
            return
        await self._move(a, ROLLING_BACK, batch, f"{why}; rolling back")
        self._launch(a)

    def _launch(self, a: ActionRecord) -> None:
        rb = self.runbooks[a.runbook]
        phase, steps = ("rollback", rb.rollback) if a.state == ROLLING_BACK else ("steps", rb.steps)
        self.jobs[a.id] = asyncio.ensure_future(
            run_steps(a, phase, steps, self._context(a), self._save_step, self.switch.is_paused))

    def _context(self, a: ActionRecord) -> ActionContext:
        cap = self.config.remediation.resolve(self.runbooks[a.runbook].guards).blast_radius
        return ActionContext(a.service, self.clock, self.actuators.get(a.service), self._health, self.latest.get,
                             cap, self.maintenance, self.notes, a.id, a.runbook, a.incident, tell=self.teller,
                             breakers=self.breakers)

    def _incident_open(self, a: ActionRecord) -> bool:
        inc = getattr(self.incidents, "known", {}).get(a.incident) if a.incident is not None else None
        return inc is None or inc.open  # forgotten (long resolved) counts as open: the expiry still ends it

    def _health(self, service: str) -> Health:
        return Health(self.health.service_health(service))

    # ------------------------------------------------------------------------------ matching

    async def _match(self, batch: Batch) -> None:
        now = batch.now
        known: dict[int, Incident] = getattr(self.incidents, "known", {})
        firing = list(self.book.firing.values())
        incident_of = {fp: inc for fp in self.book.firing if (inc := self.incidents.incident_of(fp)) is not None}
        found = matches(self.runbooks.values(), known.values(), firing, incident_of, self.labels, self.graph.depends)
        live = {m.key for m in found}
        self.seen_since = {k: v for k, v in self.seen_since.items() if k in live}
        self.refused = {k: v for k, v in self.refused.items() if k.split("#", 1)[0] in live}  # (episode keys too)
        self.shadowed &= live  # a key that left never returns: a new episode has a new key
        for m in found:
            first = self.seen_since.setdefault(m.key, now)
            if now - first < m.runbook.trigger.for_ or m.key in self.shadowed:
                continue
            key = self._episode_key(m)
            if key is None:
                continue  # one action per runbook and failure episode: the idempotency key
            await self._consider(replace(m, key=key) if key != m.key else m, batch)

    def _episode_key(self, m: Match) -> str | None:
        """The idempotency key for `m`'s failure, None when an action already answered it. An incident
        that stays open (held while a flapping alert goes quiet) can see its root fail again after a
        fix: alerts that began firing after the last action for the match ended are a new episode,
        `KEY#n`. While they fire on from before (the fix did not help), nothing is tried again."""
        prior = [a for a in self.actions.values() if a.key == m.key or a.key.startswith(m.key + "#")]
        if not prior:
            return m.key
        last = max(prior, key=lambda a: a.id)
        if not last.finished or last.finished_at is None or m.since <= last.finished_at:
            return None
        return f"{m.key}#{len(prior)}"

    async def _consider(self, m: Match, batch: Batch) -> None:
        now, rb = batch.now, m.runbook
        g = self.config.remediation.resolve(rb.guards)
        verdict = guards.check(g, rb.name, m.service, now, m.confidence, self.actions.values(),
                               paused=self.switch.is_paused(), maintenance_until=self.maintenance.ends_at(m.service),
                               maintenance_window=self.maintenance.configured(m.service, now))
        inputs = {"service": m.service, "key": m.key, "confidence": round(m.confidence, 4), "mode": rb.mode,
                  **m.reason}
        if not verdict.ok:
            if self.refused.get(m.key) != verdict.rule:  # recorded once per guard, not every pass
                self.refused[m.key] = verdict.rule
                batch.decisions.append(Decision(now, "remediate", m.service, verdict.rule, inputs,
                                                {"act": False, "why": verdict.why, "runbook": rb.name}))
                await self._audit("vigil", "remediate.refused", verdict.why, inputs, {"rule": verdict.rule},
                                  m.incident, m.service)
            return
        if rb.mode == "shadow":
            self.shadowed.add(m.key)
            would = [s.action for s in rb.steps]
            batch.decisions.append(Decision(now, "remediate", m.service, "shadow", inputs,
                                            {"act": False, "would_run": would, "runbook": rb.name}))
            self._timeline(batch, m.incident, f"shadow: runbook {rb.name} would run {', '.join(would)} on "
                           f"{m.service}", runbook=rb.name)
            await self._audit("vigil", "remediate.shadow", f"runbook {rb.name} matched (shadow mode)", inputs,
                              {"would_run": would}, m.incident, m.service)
            return
        a = ActionRecord(self.next_id, m.key, rb.name, m.service, m.incident, PENDING, rb.mode, now, now,
                         reason=inputs, expires_at=now + self.config.remediation.approval_expiry if g.approval
                         else None)
        self.next_id += 1
        self.actions[a.id] = a
        a.story.append(f"runbook {rb.name} matched on {m.service}: {m.reason}")
        await self._save(a)
        batch.decisions.append(Decision(now, "remediate", m.service, rb.name, inputs,
                                        {"act": True, "action": a.id, "approval": g.approval}))
        self._timeline(batch, m.incident, f"action {a.id}: runbook {rb.name} on {m.service}"
                       + (" awaits approval" if g.approval else ""), action=a.id)
        await self._audit("vigil", "remediate.matched", f"runbook {rb.name} matched", inputs, {"action": a.id},
                          m.incident, m.service)
        if not g.approval:
            a.decided_by = "vigil"
            await self._move(a, APPROVED, batch, "no approval required")
            await self._advance(a, batch)

    # ------------------------------------------------------------------------------ people

    async def _command(self, cmd: Command, batch: Batch) -> None:
        a = self.actions.get(int(cmd.args.get("id", -1)))
        if a is None:
            cmd.refused(KeyError(f"no action {cmd.args.get('id')}"))
            return
        if cmd.action not in ("approve", "deny"):
            cmd.refused(ValueError(f"unknown action {cmd.action!r}; known: approve, deny"))
            return
        if a.state != PENDING:
            cmd.refused(ValueError(f"action {a.id} is {a.state}, not pending: nothing to {cmd.action}"))
            return
        a.decided_by = cmd.actor
        who = f"key:{cmd.args['key']}" if cmd.args.get("key") else cmd.actor  # the audit log's name of an API key
        by = {"by": cmd.args["by"]} if cmd.args.get("by") else {}
        if cmd.action == "approve":
            await self._move(a, APPROVED, batch, f"approved by {cmd.actor}", actor=cmd.actor, audit_as=who, **by)
            await self._advance(a, batch)
        else:
            await self._move(a, DENIED, batch, f"denied by {cmd.actor}", actor=cmd.actor, audit_as=who, **by)
        cmd.handled(a.view())

    # ------------------------------------------------------------------------------ the record

    async def _move(self, a: ActionRecord, to: str, batch: Batch, note: str, actor: str = "vigil",
                    audit_as: str | None = None, **more: Any) -> None:
        before, last = a.state, a.updated_at
        a.move(to, batch.now, note)
        if a.finished:
            a.outcome = note
        await self._save(a)
        inputs = {"action": a.id, "runbook": a.runbook, "from": before, "key": a.key}
        batch.decisions.append(Decision(batch.now, "action", a.service, to, inputs, {"state": to, "note": note}))
        batch.events.append(Event(batch.now, "action", a.service, f"action {a.id} ({a.runbook} on {a.service}): "
                                  f"{before} -> {to}: {note}", {"action": a.id, "state": to}))
        self._timeline(batch, a.incident, f"action {a.id} ({a.runbook}): {to}: {note}", actor=actor, action=a.id,
                       state=to)
        await self._audit(audit_as or actor, f"action.{to}", note, {**inputs, **more},
                          {"state": to, "story": a.story[-3:]}, a.incident, a.service, batch.now - last)

    async def _escalate(self, a: ActionRecord, to: str, batch: Batch, why: str) -> None:
        """The end of an action that did not fix things: its incident is raised to critical with the story."""
        await self._move(a, to, batch, why)
        inc = getattr(self.incidents, "known", {}).get(a.incident) if a.incident is not None else None
        story = list(a.story)
        self._timeline(batch, a.incident, f"escalated: vigil could not fix {a.service} ({a.runbook}); tried and "
                       f"seen: " + " | ".join(story[-12:]), kind="escalated", action=a.id, story=story)
        if inc is not None and inc.open:
            inc.severity, inc.updated_at = Severity.CRITICAL, batch.now
            if all(i is not inc for i in batch.incidents):
                batch.incidents.append(inc)

    def _timeline(self, batch: Batch, incident: int | None, message: str, actor: str = "vigil",
                  kind: str = "action", **data: Any) -> None:
        if incident is not None:
            batch.timeline.append(TimelineEntry(incident, batch.now, kind, message, actor, data))

    async def _save(self, a: ActionRecord) -> None:
        await self.writer.call(self.store.save_action, a)

    async def _save_step(self, step: StepRecord) -> None:
        await self.writer.call(self.store.save_step, step)
        if step.state != STEP_RUNNING:  # a step's outcome (succeeded, failed, interrupted) is audited once
            await self._audit_step(step)

    async def _audit_step(self, step: StepRecord) -> None:
        a = self.actions.get(step.action_id)
        rb = self.runbooks.get(a.runbook) if a is not None else None
        if a is None or rb is None:
            return
        steps = rb.rollback if step.phase == "rollback" else rb.steps
        params = steps[step.index].model_dump(mode="json", by_alias=True) if step.index < len(steps) else {}
        seconds = float(step.result.get("seconds", (step.finished_at or step.started_at) - step.started_at))
        await self._audit("vigil", f"action.step.{step.state}", f"action {a.id} ({a.runbook}) {step.phase}"
                          f"[{step.index}] {step.kind}: {step.detail}"[:1000],
                          {"action": a.id, "runbook": a.runbook, "phase": step.phase, "index": step.index,
                           "step": params, "key": a.key},
                          {"state": step.state, "detail": step.detail, "result": step.result}, a.incident,
                          a.service, seconds)

    async def _audit(self, actor: str, action: str, reason: str, inputs: dict[str, Any], result: dict[str, Any],
                     incident: int | None, service: str | None, duration_s: float = 0.0) -> None:
        if self.audit is not None:  # the audit log queues it for the writer: nothing waits here
            self.audit.append(actor, action, reason, inputs, result, duration_s, incident, service)

    def _forget(self, now: float) -> None:
        for a in [a for a in self.actions.values() if a.finished and (a.finished_at or now) < now - HISTORY_S]:
            del self.actions[a.id]


def _metric_names(rb: Runbook) -> set[str]:
    """The metrics a runbook's verification and checks read (their newest samples are kept)."""
    from vigil.model import SeriesKey

    bounds = [rb.verify.metric] + [getattr(s, "metric", None) for s in [*rb.steps, *rb.rollback]]
    return {SeriesKey.parse(b.series).name for b in bounds if b is not None}
