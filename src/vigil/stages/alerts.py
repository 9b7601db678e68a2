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
from collections import OrderedDict
from dataclasses import replace

from vigil.model import Alert, AlertStatus, Event
from vigil.pipeline import Batch, Offload
from vigil.store.faces import AlertReader

log = logging.getLogger("vigil.alerts")

MAX_FIRING_LOADED = 100_000
RECENT_S = 3600.0  # resolved alerts are kept this long for merging a late report of the same occurrence
MAX_RECENT = 100_000


class AlertBook:
    """The alerts firing now, by fingerprint, and when each outside one ends unless repeated."""

    def __init__(self, store: AlertReader, worker: Offload) -> None:
        self.store, self.worker = store, worker
        self.firing: dict[str, Alert] = {}
        self.recent: OrderedDict[str, Alert] = OrderedDict()  # resolved lately, oldest first
        self.refreshed: list[Alert] = []  # seen again (new end time, annotations): stored quietly, no change
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
        """Book one proposed change: the change to pass on, or None when it changes nothing.

        An alert seen again while its activity overlaps the one known is merged as Alertmanager merges
        it (`types.Alert.Merge`: the earliest start, the newest annotations, for a resolved one the
        latest end, for a firing one the sender's own end over a timeout). A firing alert seen again,
        or a resolved one resolved again, is stored quietly (`refreshed`): not a change."""
        fp = alert.fingerprint
        known = self.firing.get(fp) or self.recent.get(fp)
        if known is not None and _overlaps(known, alert):
            alert = _merge(known, alert)
        if alert.firing:
            self.recent.pop(fp, None)
            self._keep(alert)
            if fp in self.firing and known is not None and known.firing:
                self.refreshed.append(alert)
                return None
            return alert
        if fp in self.firing:
            del self.firing[fp]
            self._remember(alert)
            return alert
        if fp in self.recent:
            self._remember(alert)
            self.refreshed.append(alert)
        return None

    def _remember(self, alert: Alert) -> None:
        """Resolved alerts are kept a while, so a later report of the same occurrence merges into it."""
        self.recent.pop(alert.fingerprint, None)
        self.recent[alert.fingerprint] = alert
        while len(self.recent) > MAX_RECENT:
            self.recent.popitem(last=False)

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
        cutoff = now - RECENT_S
        while self.recent and float(next(iter(self.recent.values())).ends_at or now) < cutoff:
            self.recent.popitem(last=False)
        return over


def _overlaps(old: Alert, new: Alert) -> bool:
    """Alertmanager merges a new report into the known alert only when their activity overlaps."""
    inf = float("inf")
    old_end, new_end = old.ends_at if old.ends_at is not None else inf, new.ends_at if new.ends_at is not None else inf
    return (old.starts_at < new_end < old_end) or (old.starts_at < new.starts_at < old_end)


def _merge(old: Alert, new: Alert) -> Alert:
    """Alertmanager's `Merge`, `new` being the younger report."""
    merged = replace(new, starts_at=min(old.starts_at, new.starts_at))
    old_end = old.ends_at if old.ends_at is not None else float("inf")
    if not new.firing:
        if not old.firing and new.ends_at is not None and old_end > new.ends_at:
            merged.ends_at = old.ends_at
    elif old.ends_at is not None and not old.timeout and (new.ends_at is None or old.ends_at > new.ends_at):
        merged.ends_at = old.ends_at
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
            summary = a.summary.removeprefix(f"{a.name}: ")  # a rule's reason already starts with its name
            text = summary if a.firing else f"{summary} (resolved: {a.annotations.get('resolution', '')})"
            batch.events.append(Event(
                ts=a.starts_at if a.firing else float(a.ends_at or batch.now), kind="alert", service=a.service or None,
                message=f"{what} [{a.severity.value}] {a.name}: {text}",
                data={"status": a.status.value, "fingerprint": a.fingerprint, "alertname": a.name,
                      "labels": a.labels, "source": a.source}))
