"""The alert stream. Every producer (health, detection, rules, forecasts) adds the changes it sees
to `Batch.alerts`: an alert that starts firing, or the same labels resolved. The alerts stage keeps
the book of what is firing now, drops what is not a change (a second "firing" for an alert already
firing, a "resolved" for one that is not), and turns each change into a line of the event log, so
later stages (incidents, notifications) see one clean stream and the timeline shows both ends.

The book is loaded from the store once, on first use: producers that do not keep their own open set
re-adopt their firing alerts from it at start, so an alert open at a restart still resolves."""

from __future__ import annotations

import asyncio
import logging

from vigil.model import Alert, AlertStatus, Event
from vigil.pipeline import Batch, Offload
from vigil.store.faces import AlertReader

log = logging.getLogger("vigil.alerts")

MAX_FIRING_LOADED = 100_000


class AlertBook:
    """The alerts firing now, by fingerprint."""

    def __init__(self, store: AlertReader, worker: Offload) -> None:
        self.store, self.worker = store, worker
        self.firing: dict[str, Alert] = {}
        self._loaded = False
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        async with self._lock:
            if not self._loaded:
                rows = await self.worker.call(self.store.alerts, AlertStatus.FIRING.value, None, MAX_FIRING_LOADED)
                self.firing = {a.fingerprint: a for a in rows}
                self._loaded = True
                if rows:
                    log.info("%d alerts were firing at the last stop", len(rows))

    async def open_alerts(self, *sources: str) -> list[Alert]:
        """Firing alerts whose source starts with one of `sources` (e.g. "detector:", "health")."""
        await self.load()
        return [a for a in self.firing.values() if a.source.startswith(sources)]

    def apply(self, alert: Alert) -> bool:
        """Book one proposed change; False when it changes nothing."""
        known = self.firing.get(alert.fingerprint)
        if alert.firing:
            if known is not None:
                return False
            self.firing[alert.fingerprint] = alert
            return True
        if known is None:
            return False
        del self.firing[alert.fingerprint]
        return True


class AlertStage:
    name = "alerts"

    def __init__(self, book: AlertBook) -> None:
        self.book = book

    async def start(self) -> None:
        await self.book.load()

    async def close(self) -> None:
        return None

    async def run(self, batch: Batch) -> None:
        if not batch.alerts:
            return
        changes = [a for a in batch.alerts if self.book.apply(a)]
        batch.alerts = changes
        for a in changes:
            what = "FIRING" if a.firing else "RESOLVED"
            text = a.summary if a.firing else f"{a.summary} (resolved: {a.annotations.get('resolution', '')})"
            batch.events.append(Event(
                ts=a.starts_at if a.firing else float(a.ends_at or batch.now), kind="alert", service=a.service or None,
                message=f"{what} [{a.severity.value}] {a.name}: {text}",
                data={"status": a.status.value, "fingerprint": a.fingerprint, "alertname": a.name,
                      "labels": a.labels, "source": a.source}))
