"""The health stage: probe results through the failure/success thresholds (sources.health), and the
outcome of every metric collection. Each probe state change is an Event and sets the stored health;
a probe that turns unhealthy fires a `ProbeFailing` alert, resolved when it is healthy again. A metric
source that fails `COLLECT_FAILURES` runs in a row fires `CollectFailing`, resolved by its first
good run. Alerts still firing at a restart are re-adopted, so they resolve when the trouble ends."""

from __future__ import annotations

from vigil.model import Alert, AlertStatus, Event, Health, ProbeResult
from vigil.pipeline import Batch, CollectOutcome, Offload
from vigil.selfmetrics import SelfMetrics
from vigil.sources.health import HealthChange, HealthTracker
from vigil.stages.alerts import AlertBook
from vigil.store.faces import HealthLog

COLLECT_FAILURES = 3  # a metric source failing this many runs in a row is an alert (one blip is not)


def probe_alert(service: str, probe: str, at: float, summary: str) -> Alert:
    return Alert({"alertname": "ProbeFailing", "service": service, "probe": probe, "severity": "critical"},
                 AlertStatus.FIRING, at, annotations={"summary": summary}, source="health")


def collect_alert(service: str, source: str, at: float, summary: str) -> Alert:
    return Alert({"alertname": "CollectFailing", "service": service, "source": source, "severity": "warning"},
                 AlertStatus.FIRING, at, annotations={"summary": summary}, source="collect")


class HealthStage:
    name = "health"

    def __init__(self, tracker: HealthTracker, store: HealthLog, writer: Offload, metrics: SelfMetrics,
                 book: AlertBook, services: list[str]) -> None:
        self.tracker, self.store, self.writer, self.metrics, self.book = tracker, store, writer, metrics, book
        self.services = services
        self.failing: dict[tuple[str, str], Alert] = {}  # (service, probe or source) -> its firing alert
        self._failures: dict[tuple[str, str], int] = {}  # metric source -> failed runs in a row

    async def start(self) -> None:
        for alert in await self.book.open_alerts("health", "collect"):
            self.failing[(alert.service, alert.labels.get("probe") or alert.labels.get("source", ""))] = alert

    async def close(self) -> None:
        return None

    async def run(self, batch: Batch) -> None:
        for result in batch.probes:
            self._count(result)
            change = self.tracker.observe(result)
            if change is not None:
                await self._changed(change, batch)
        for outcome in batch.collected:
            self._collected(outcome, batch)
        for service in self.services:
            h = self.tracker.service_health(service)
            self.metrics.service_healthy.labels(service).set({Health.HEALTHY: 1, Health.UNHEALTHY: 0}.get(h, -1))

    def _count(self, result: ProbeResult) -> None:
        outcome = "ok" if result.ok else "fail"
        self.metrics.probes_run.labels(result.service, result.probe, outcome).inc()
        self.metrics.probe_duration.labels(result.service, result.probe).observe(result.latency_s)

    async def _changed(self, change: HealthChange, batch: Batch) -> None:
        batch.events.append(Event(
            ts=change.ts, kind="health", service=change.service,
            message=f"{change.service}/{change.probe} {change.before.value} -> {change.after.value}: {change.reason}",
            data={"probe": change.probe, "before": change.before.value, "after": change.after.value,
                  "service_before": change.service_before.value, "service_after": change.service_after.value,
                  **change.evidence}))
        await self.writer.call(self.store.set_health, change.service, change.probe, change.after, change.ts,
                               change.reason)
        key = (change.service, change.probe)
        if change.after is Health.UNHEALTHY and key not in self.failing:
            alert = probe_alert(change.service, change.probe, change.ts, f"{change.service}/{change.probe}: "
                                f"{change.reason}")
            alert.evidence = dict(change.evidence)
            self._fire(key, alert, batch)
        elif change.after is Health.HEALTHY:
            self._resolve(key, change.ts, change.reason, batch)

    def _collected(self, outcome: CollectOutcome, batch: Batch) -> None:
        key = (outcome.service, outcome.source)
        if outcome.error is None:
            self._failures.pop(key, None)
            self._resolve(key, outcome.ts, "collecting again", batch)
            return
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        if failures >= COLLECT_FAILURES and key not in self.failing:
            self._fire(key, collect_alert(outcome.service, outcome.source, outcome.ts,
                                          f"{outcome.service}/{outcome.source}: {failures} collections failed in a "
                                          f"row: {outcome.error}"), batch)

    def _fire(self, key: tuple[str, str], alert: Alert, batch: Batch) -> None:
        self.failing[key] = alert
        batch.alerts.append(alert)

    def _resolve(self, key: tuple[str, str], at: float, why: str, batch: Batch) -> None:
        alert = self.failing.pop(key, None)
        if alert is not None:
            batch.alerts.append(alert.resolve(at, why))
