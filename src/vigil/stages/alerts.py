"""The alert stream. Every producer (health, detection, rules, forecasts) adds the changes it sees
to `Batch.alerts`: an alert that starts firing, or the same labels resolved. The alerts stage keeps
the book of what is firing now, drops what is not a change (a second "firing" for an alert already
firing, a "resolved" for one that is not), and turns each change into a line of the event log, so
later stages (incidents, notifications) see one clean stream and the timeline shows both ends.

The book is loaded from the store once, on first use: producers that do not keep their own open set
re-adopt their firing alerts from it at start, so an alert open at a restart still resolves."""

from __future__ import annotations

import asyncio
import heapq
import logging
from dataclasses import replace

from vigil.model import Alert, AlertStatus, Event
from vigil.pipeline import Batch, Offload
from vigil.store.faces import AlertReader

log = logging.getLogger("vigil.alerts")

MAX_FIRING_LOADED = 100_000


class AlertBook:
    """The alerts firing now, by fingerprint, and when each outside one ends unless repeated."""

    def __init__(self, store: AlertReader, worker: Offload) -> None:
        self.store, self.worker = store, worker
        self.firing: dict[str, Alert] = {}
        self.refreshed: list[Alert] = []  # firing alerts seen again (new end time, annotations): stored, no change
        self._ends: list[tuple[float, str]] = []  # (ends_at, fingerprint), stale entries skipped
        self._loaded = False
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        async with self._lock:
            if not self._loaded:
                rows = await self.worker.call(self.store.alerts, AlertStatus.FIRING.value, None, MAX_FIRING_LOADED)
                for a in rows:
                    self._keep(a)
                self._loaded = True
                if rows:
                    log.info("%d alerts were firing at the last stop", len(rows))

    async def open_alerts(self, *sources: str) -> list[Alert]:
        """Firing alerts whose source starts with one of `sources` (e.g. "detector:", "health")."""
        await self.load()
        return [a for a in self.firing.values() if a.source.startswith(sources)]

    def _keep(self, alert: Alert) -> None:
        self.firing[alert.fingerprint] = alert
        if alert.ends_at is not None:
            heapq.heappush(self._ends, (alert.ends_at, alert.fingerprint))

    def apply(self, alert: Alert) -> Alert | None:
        """Book one proposed change: the change to pass on, or None when it changes nothing. A firing
        alert seen again is merged as Alertmanager merges it (earliest start; the sender's own end time
        wins over a timeout) and is not a change."""
        known = self.firing.get(alert.fingerprint)
        if alert.firing:
            if known is None:
                self._keep(alert)
                return alert
            merged = _merge(known, alert)
            self._keep(merged)
            self.refreshed.append(merged)
            return None
        if known is None:
            return None
        del self.firing[alert.fingerprint]
        return alert

    def expire(self, now: float) -> list[Alert]:
        """Firing alerts whose end time has passed without their sender repeating them: resolved."""
        over = []
        while self._ends and self._ends[0][0] <= now:
            ends_at, fp = heapq.heappop(self._ends)
            alert = self.firing.get(fp)
            if alert is not None and alert.ends_at == ends_at:  # (apply() takes it off the book)
                why = ("not repeated by its sender within resolve_timeout" if alert.timeout
                       else "its end time passed")
                over.append(alert.resolve(ends_at, why))
        return over


def _merge(old: Alert, new: Alert) -> Alert:
    merged = replace(new, starts_at=min(old.starts_at, new.starts_at))
    if old.ends_at is not None and (new.ends_at is None or (old.ends_at > new.ends_at and not old.timeout)):
        merged.ends_at, merged.timeout = old.ends_at, old.timeout
    return merged


class AlertStage:
    name = "alerts"

    def __init__(self, book: AlertBook) -> None:
        self.book = book

    async def start(self) -> None:
        await self.book.load()

    async def close(self) -> None:
        return None

    async def run(self, batch: Batch) -> None:
        proposed = batch.alerts + self.book.expire(batch.now)
        if not proposed:
            return
        changes = [c for c in (self.book.apply(a) for a in proposed) if c is not None]
        batch.alerts = changes
        batch.alerts_refreshed, self.book.refreshed = self.book.refreshed, []
        for a in changes:
            what = "FIRING" if a.firing else "RESOLVED"
            text = a.summary if a.firing else f"{a.summary} (resolved: {a.annotations.get('resolution', '')})"
            batch.events.append(Event(
                ts=a.starts_at if a.firing else float(a.ends_at or batch.now), kind="alert", service=a.service or None,
                message=f"{what} [{a.severity.value}] {a.name}: {text}",
                data={"status": a.status.value, "fingerprint": a.fingerprint, "alertname": a.name,
                      "labels": a.labels, "source": a.source}))
