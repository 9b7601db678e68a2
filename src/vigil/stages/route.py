"""The route stage: the alert stream through Alertmanager's route tree, grouping timers, inhibition,
silences and maintenance windows (`incidents.router`), into notices for the notify stage.

Each alert is handed on with an `incident` label naming the incident it belongs to (so a route can
`group_by: [incident]`: one notification per problem), and each notice carries its incident (title,
status, service, root causes). vigil adds one inhibition of its own, by dependency: an alert of a
service is not notified while its incident is about another service (the one the others depend on)
and that service has an alert firing in it: storefront's errors do not page while payments, which
they come from, is down. The notification log (what each group was last told) is saved as state,
at most every few seconds and at stop."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from vigil.incidents.links import notice_incident
from vigil.incidents.matchers import MatcherError, format_matchers
from vigil.incidents.model import TimelineEntry
from vigil.incidents.router import NFLOG_STATE_KEY, AlertRouter
from vigil.incidents.silences import SilenceError, SilenceNotFound
from vigil.model import Alert, AlertStatus, Event, Notice
from vigil.pipeline import Batch, Command, Offload
from vigil.stages.alerts import AlertBook
from vigil.stages.incidents import IncidentStage
from vigil.stages.record import RecordStage

log = logging.getLogger("vigil.route")

SAVE_EVERY_S = 5.0


class RouteStage:
    name = "route"

    def __init__(self, router: AlertRouter | None, incidents: IncidentStage, book: AlertBook, store: Any,
                 worker: Offload, record: RecordStage) -> None:
        self.router, self.incidents, self.book, self.store, self.worker = router, incidents, book, store, worker
        self.record = record  # writes the notification log at stop
        self._saved_at = float("-inf")
        if router is not None:
            router.inhibitor.plug(self.by_dependency)

    async def start(self) -> None:
        if self.router is None:
            return
        await self.router.start()
        blob = await self.worker.call(self.store.load_state, NFLOG_STATE_KEY)
        if blob is not None:
            self.router.load_state(blob)
        firing = await self.book.open_alerts("")
        if firing:  # what was firing at the stop: the groups it was in exist again
            now = max(a.starts_at for a in firing)
            self.router.observe([self._tagged(a) for a in firing], now)

    def next_due(self) -> float | None:
        """When the next group is due a flush (the engine wakes for it between ticks)."""
        dispatcher = None if self.router is None else self.router.dispatcher
        return None if dispatcher is None else dispatcher.next_due()

    async def close(self) -> None:
        if self.router is not None and self.router.state_changed:
            batch = Batch(now=self._saved_at)
            batch.state[NFLOG_STATE_KEY] = self.router.save_state()
            await self.record.run(batch)

    async def run(self, batch: Batch) -> None:
        if self.router is None:
            for cmd in batch.commands:
                if cmd.target == self.name:
                    cmd.refused(LookupError("no alerting route is configured (alerting.route)"))
            return
        for cmd in batch.commands:
            if cmd.target == self.name:
                await self._command(cmd, batch)
        changed = batch.alerts + batch.alerts_refreshed
        if changed:
            self.router.observe([self._tagged(a) for a in changed], batch.now)
        flush = await self.router.tick(batch.now)
        for change in flush.silence_changes:
            sil = change.silence
            batch.events.append(Event(batch.now, "silence", None, f"silence {sil.id} is {change.state}: "
                                      f"{format_matchers(sil.matchers)} ({sil.comment})",
                                      {"id": sil.id, "state": change.state}))
        batch.notices[:] = [n for n in batch.notices if self._escalation_sent(n, batch)]
        batch.notices.extend(self._with_incident(n) for n in flush.notices)
        if self.router.state_changed and batch.now - self._saved_at >= SAVE_EVERY_S:
            batch.state[NFLOG_STATE_KEY] = self.router.save_state()
            self._saved_at = batch.now

    async def _command(self, cmd: Command, batch: Batch) -> None:
        """People's changes to silences, and a new alerting section (reload), in the pass."""
        assert self.router is not None
        book, now = self.router.silences, batch.now
        try:
            if cmd.action == "silence":
                a = cmd.args
                silence = await book.create(a["matchers"], a.get("starts_at") or now, a.get("ends_at"),
                                            a.get("created_by") or cmd.actor, a.get("comment", ""), now)
                what = f"silence {silence.id} created by {cmd.actor}: {format_matchers(silence.matchers)} until " \
                       f"{silence.ends_at:.0f} ({silence.comment})"
            elif cmd.action == "expire":
                silence = await book.expire(str(cmd.args["id"]), now)
                what = f"silence {silence.id} expired by {cmd.actor}"
            elif cmd.action == "reload":
                self.router.reload(cmd.args["alerting"], now)
                batch.events.append(Event(now, "config", None, f"alerting configuration reloaded by {cmd.actor}",
                                          {}))
                cmd.handled(None)
                return
            else:
                cmd.refused(ValueError(f"unknown action {cmd.action!r}"))
                return
        except (SilenceError, MatcherError) as exc:
            cmd.refused(ValueError(str(exc)))
            return
        except SilenceNotFound as exc:
            cmd.refused(KeyError(f"no silence {exc}"))
            return
        batch.events.append(Event(now, "silence", None, what, {"id": silence.id, "by": cmd.actor}))
        cmd.handled(silence)

    def _tagged(self, alert: Alert) -> Alert:
        inc = self.incidents.incident_of(alert.fingerprint)
        if inc is None:
            return alert
        return replace(alert, labels={**alert.labels, "incident": str(inc.id)}, fingerprint=alert.fingerprint)

    def _with_incident(self, notice: Notice) -> Notice:
        for a in notice.alerts:
            inc = self.incidents.incident_of(a.fingerprint)
            if inc is not None:  # with links signed for this receiver (incidents/links.py)
                escalation = getattr(self.incidents, "escalation", None)
                signer = escalation.signer if escalation is not None else None
                notice.incident = notice_incident(inc, signer, notice.receiver, notice.created_at)
                break
        return notice

    def _escalation_sent(self, notice: Notice, batch: Batch) -> bool:
        """An escalation page (from the incidents stage) carries the incident's alerts as the book has
        them; it is not sent, and its timeline says so, when every one of them is muted now (silence,
        inhibition, maintenance window), as the route tree's own notices are not."""
        if notice.kind != "escalation" or notice.status is not AlertStatus.FIRING or self.router is None:
            return True
        notice.alerts = [self._tagged(self.book.firing.get(a.fingerprint, a)) for a in notice.alerts]
        muted = [self.router.muted_by(a, batch.now) for a in notice.alerts]
        if not notice.alerts or not all(muted) or notice.incident is None:
            return True
        batch.timeline.append(TimelineEntry(int(notice.incident["id"]), batch.now, "escalated",
                                            f"page to {notice.receiver} not sent: its alerts are muted "
                                            f"({muted[0][0]})", data={"key": notice.key}))
        return False

    def by_dependency(self, alert: Alert, now: float) -> bool:
        """Mute an alert of a service whose incident is about another service with a firing alert."""
        inc = self.incidents.incident_of(alert.fingerprint)
        if inc is None or not inc.open or not inc.service or alert.service == inc.service:
            return False
        return inc.firing_on(inc.service)
