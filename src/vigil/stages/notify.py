"""The notify stage, last before record: the notices of the pass into the durable outbox, and the
outbox moved on (finished attempts recorded, due ones started beside the pass; `notify.outbox`).
Each outcome is a line of the event log (kind `notification`), and a delivered notice of an incident
a line of its timeline."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from vigil.incidents.model import TimelineEntry
from vigil.incidents.report_schedule import ReportSchedule
from vigil.model import Notice
from vigil.notify.outbox import Outbox
from vigil.notify.policy import EnqueueResult
from vigil.pipeline import Batch

log = logging.getLogger("vigil.notify")


class NotifyStage:
    name = "notify"

    def __init__(self, outbox: Outbox | None, reports: ReportSchedule | None = None) -> None:
        self.outbox = outbox
        self.reports = reports  # scheduled reports (incidents/report_schedule.py): notices of the pass
        self.incident_of_key: dict[str, int] = {}  # notice key -> incident, for the timeline

    async def start(self) -> None:
        if self.outbox is not None:
            await self.outbox.start()

    async def close(self) -> None:
        if self.outbox is not None:
            await self.outbox.close()

    async def enqueue(self, notices: Sequence[Notice], now: float) -> EnqueueResult | None:
        """Into the outbox (written before this returns, unless the store refuses: then deferred), their
        deliveries to come as lines of their incident's timeline. Also for a runbook's notify step."""
        if self.outbox is None:
            return None
        for n in notices:
            if n.incident is not None and n.incident.get("id"):
                self.incident_of_key[n.key] = int(n.incident["id"])
        return await self.outbox.enqueue(notices, now)

    async def run(self, batch: Batch) -> None:
        if self.outbox is None:
            return
        if self.reports is not None:
            batch.notices.extend(self.reports.due(batch.now))
        if batch.notices:
            await self.enqueue(batch.notices, batch.now)
        for outcome in await self.outbox.tick(batch.now):
            batch.events.append(outcome.event())
            incident = self.incident_of_key.get(outcome.key)
            if incident is not None and outcome.state in ("delivered", "dead"):
                batch.timeline.append(TimelineEntry(
                    incident, outcome.ts, "notified", f"{outcome.status} notification {outcome.state} to "
                    f"{outcome.receiver}/{outcome.integration}", data={"key": outcome.key, "state": outcome.state}))
                if len(self.incident_of_key) > 100_000:
                    self.incident_of_key.clear()
