"""The loop, written down once. Every pass runs these stages, in this order:

    collect → persist → health → detect → rules → forecast → alerts → incidents → remediate → scale
            → route → notify → record


- collect: the scheduler runs every probe and metric source on the injected Clock and hands each
  Collection to the queue; `submit()` puts pushed samples (and later, alerts from outside) on the same
  queue. A pass takes everything queued into one Batch.
- A pass runs when something arrives and at every `engine.tick` even when nothing did, so each timer,
  schedule and retry lives in a stage's `run` and moves on time alone.
- A failing stage is counted and logged and never stops the loop; a failing store keeps collected
  data for retry and the stages after persist do not act on what could not be stored.

`app.py` builds the stages (the only wiring) and hands them over as `Stages`; nothing else knows
their order."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from vigil.audit import AuditLog
from vigil.automation import Automation
from vigil.breaker import Breakers
from vigil.clock import Clock, SystemClock
from vigil.config import VigilConfig
from vigil.model import Event, SeriesKey
from vigil.pipeline import AlertsIn, Batch, CollectOutcome, Command, Offload, Push, Stage
from vigil.selfmetrics import SelfMetrics

if TYPE_CHECKING:
    from vigil.sources import Collection, Collector
    from vigil.stages.alerts import AlertBook, AlertStage
    from vigil.stages.detection import DetectionStage
    from vigil.stages.forecasting import ForecastingStage
    from vigil.stages.health import HealthStage
    from vigil.stages.incidents import IncidentStage
    from vigil.stages.notify import NotifyStage
    from vigil.stages.persist import PersistStage
    from vigil.stages.record import RecordStage
    from vigil.stages.remediate import RemediateStage
    from vigil.stages.route import RouteStage
    from vigil.stages.rules import RulesStage
    from vigil.stages.scaling import ScalingStage
    from vigil.store.store import Store

log = logging.getLogger("vigil.engine")

MAINTENANCE_EVERY_S = 60.0
MAX_BATCH_ITEMS = 5_000  # collections and pushes taken into one pass
MAX_BATCH_PUSHED = 1_000_000  # pushed samples taken into one pass (the rest wait for the next)
STOP_RETRIES = 5  # attempts to write what is left when stopping


class NotRunning(RuntimeError):
    """The engine is not running (not started yet, or stopping): nothing can be submitted."""


class NotRecorded(RuntimeError):
    """A pass could not write its records (the store failed): what was submitted must be sent again."""


@dataclass
class Stages:
    """The stages of the loop by role: typed handles for the API and the demo (`stages.forecast`,
    `stages.scale`, ...). `ORDER` below is the one place their order is written."""

    persist: PersistStage
    health: HealthStage
    detect: DetectionStage
    rules: RulesStage
    forecast: ForecastingStage
    alerts: AlertStage
    incidents: IncidentStage
    scale: ScalingStage
    route: RouteStage
    notify: NotifyStage
    record: RecordStage
    book: AlertBook
    extra: list[Stage] = field(default_factory=list)  # tests: after scale, before record
    remediate: RemediateStage | None = None  # runbooks (docs/healing.md); None: no remediation


ORDER = ("persist", "health", "detect", "rules", "forecast", "alerts", "incidents", "remediate", "scale", "route",
         "notify", "extra", "record")


class Engine:
    def __init__(self, config: VigilConfig, store: Store, stages: Stages, *, clock: Clock,
                 writer: Offload, worker: Offload, collectors: Sequence[Collector],
                 metrics: SelfMetrics, http: Any = None, audit: AuditLog | None = None,
                 automation: Automation | None = None, breakers: Breakers | None = None) -> None:
        self.config = config
        self.store = store
        self.stages = stages
        self.clock = clock
        self.writer = writer
        self.worker = worker
        self.collectors = list(collectors)
        self.metrics = metrics
        self.http = http  # the keep-alive pool probes and scrapes share, closed at stop
        # Guard rails every stage that acts shares: the audit log, the kill switch, the breakers.
        self.audit = audit or AuditLog(store, writer, clock)
        self.automation = automation or Automation(store, writer, clock, self.audit)
        self.breakers = breakers or Breakers()
        self.loop: list[Stage] = []
        for role in ORDER:
            part = getattr(stages, role)
            if part is None:
                continue
            self.loop.extend(part if isinstance(part, list) else [part])
        self.tick = float(config.engine.tick)
        # What waits for the next pass. A deque plus an event (not an asyncio.Queue): the pipeline never
        # holds an item outside the pass lock, so stop() can never lose one.
        self._queue: deque[Collection | Push | AlertsIn | Command] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._due_timer: asyncio.TimerHandle | None = None
        self._scheduler: Any = None
        self._pass_lock = asyncio.Lock()  # one pass at a time: stop()'s drain and the loop never overlap
        self.running = False
        self._stopping = False
        self.started_at: float | None = None
        self.passes = 0
        self.samples_pushed = 0
        self.probes_seen = 0
        # Called after each pass with its batch, on the loop: they must be quick (the dashboard's live feed).
        self.pass_listeners: list[Callable[[Batch], None]] = []

    # ----------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        from vigil.sources import Scheduler
        from vigil.store import ServiceRecord

        await self.writer.call(self.store.upsert_services, [
            ServiceRecord(name=s.name, description=s.description, depends_on=list(s.depends_on),
                          labels=dict(s.labels)) for s in self.config.services])
        await self.writer.call(self.store.append_events, [Event(
            ts=self.clock.now(), kind="engine", service=None,
            message=f"vigil started: {len(self.config.services)} services, {len(self.collectors)} collectors")])
        await self.automation.load()  # a pause survives a restart: known before any stage acts
        for stage in self.loop:  # load state, compile detectors: before any data arrives
            await stage.start()
        self._scheduler = Scheduler(self.collectors, self.clock, self.submit,
                                    max_concurrency=self.config.engine.max_concurrency)
        self._tasks = [asyncio.create_task(self._pipeline(), name="vigil-pipeline"),
                       asyncio.create_task(self._ticker(), name="vigil-tick"),
                       asyncio.create_task(self._maintenance(), name="vigil-maintenance")]
        await self._scheduler.start()
        if isinstance(self.clock, SystemClock):
            self._tasks.append(asyncio.create_task(self._watch_loop_lag(), name="vigil-loop-lag"))
        self.running = True
        self.started_at = self.clock.now()

    async def stop(self) -> None:
        """Stop collecting, finish what was collected (in-flight writes complete), then stop."""
        if not self.running:
            return
        self.running = False
        if self._scheduler is not None:
            await self._scheduler.stop()
        self._stopping = True  # the pipeline ends after the pass it is in (never cancelled half-way)
        self._wake.set()
        pipeline, *others = self._tasks
        for t in others:
            t.cancel()
        if self._due_timer is not None:
            self._due_timer.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.drain()
        await self._flush_unwritten()
        for stage in self.loop:  # save state, stop what they started (e.g. the process actuator)
            try:
                await stage.close()
            except Exception:
                log.exception("stage %s could not close cleanly", stage.name)
        if self.http is not None:
            await self.http.aclose()
        try:
            await self.writer.call(self.store.append_events, [Event(
                ts=self.clock.now(), kind="engine", service=None, message="vigil stopped")])
        except Exception:  # the store may be the reason we are stopping
            log.exception("could not record the stop event")
        try:
            await self.audit.flush()
        except Exception:
            log.exception("stopping with %d audit records the store would not take", self.audit.queued)
        await asyncio.to_thread(self.worker.close)
        await asyncio.to_thread(self.writer.close)

    async def drain(self) -> None:
        """Run passes until nothing is queued (on stop, and in tests)."""
        while self._queue:
            await self.run_pass()

    async def run_pass(self) -> Batch:
        """One pass over everything queued so far (or an empty one: a tick)."""
        async with self._pass_lock:
            batch, alerts_in = self._take_batch()
            recorded = await self._run_stages(batch)
            for listener in self.pass_listeners:
                try:
                    listener(batch)
                except Exception:
                    log.exception("a pass listener failed; the loop goes on")
            for cmd in batch.commands:
                if cmd.done.done():
                    continue
                if cmd.error is not None:
                    cmd.done.set_exception(cmd.error)
                elif not cmd.taken:
                    cmd.done.set_exception(LookupError(f"nothing here takes {cmd.action} for {cmd.target}"))
                elif recorded:
                    cmd.done.set_result(cmd.outcome)
                else:
                    cmd.done.set_exception(NotRecorded("the store did not take this change; try again"))
            for item in alerts_in:
                if item.recorded.done():
                    continue
                if recorded:
                    item.recorded.set_result(None)
                else:
                    item.recorded.set_exception(NotRecorded("the store did not take this pass's records; "
                                                            "send them again"))
            return batch

    # ----------------------------------------------------------------------------- intake

    async def submit(self, item: Collection | Push | AlertsIn | Command) -> None:
        """Queue a collection, a push or outside alerts for the next pass."""
        self._queue.append(item)
        self._wake.set()
        self.metrics.queue_depth.set(len(self._queue))

    async def push(self, keys: Sequence[SeriesKey], ts: np.ndarray, values: np.ndarray,
                   source: str = "push") -> int:
        """Pushed samples (validated whole) through the loop: stored whole or refused whole (the store's
        error is raised), then detected and ruled like scraped ones. Returns the count stored."""
        if not self.running:
            raise NotRunning("vigil is not running (starting or stopping); retry shortly")
        item = Push(keys, ts, values, source)
        await self.submit(item)
        n = await item.written
        self.samples_pushed += n
        return n

    async def submit_alerts(self, item: AlertsIn) -> None:
        """Outside alerts through the loop; returns once they are recorded (NotRecorded if the store
        failed: the sender should send them again)."""
        if not self.running:
            raise NotRunning("vigil is not running (starting or stopping); retry shortly")
        await self.submit(item)
        await item.recorded

    async def command(self, target: str, action: str, args: dict[str, Any], actor: str) -> Any:
        """A person's request (acknowledge, resolve, note, ...) through the loop: its outcome, or the
        stage's error (KeyError for an unknown subject, ValueError for a request that cannot be done)."""
        if not self.running:
            raise NotRunning("vigil is not running (starting or stopping); retry shortly")
        cmd = Command(target, action, args, actor)
        await self.submit(cmd)
        return await cmd.done

    def _take_batch(self) -> tuple[Batch, list[AlertsIn]]:
        """Everything queued, in arrival order (at most MAX_BATCH_ITEMS)."""
        from vigil.sources import Collection

        batch = Batch(now=self.clock.now())
        alerts_in: list[AlertsIn] = []
        pushed = 0
        for _ in range(min(len(self._queue), MAX_BATCH_ITEMS)):
            item = self._queue[0]
            if isinstance(item, Push):
                if pushed and pushed + len(item.keys) > MAX_BATCH_PUSHED:
                    break
                pushed += len(item.keys)
            self._queue.popleft()
            if isinstance(item, Command):
                batch.commands.append(item)
            elif isinstance(item, AlertsIn):
                batch.alerts.extend(item.alerts)
                batch.events.extend(item.events)
                alerts_in.append(item)
            elif isinstance(item, Push):
                batch.pushes.append(item)
            elif isinstance(item, Collection):
                batch.samples.extend(item.samples)
                if item.probe is not None:
                    batch.probes.append(item.probe)
                else:
                    batch.collected.append(CollectOutcome(item.service, item.source, item.ts, item.error))
        self.probes_seen += len(batch.probes)
        self.metrics.queue_depth.set(len(self._queue))
        return batch, alerts_in

    # ----------------------------------------------------------------------------- the loop

    async def _pipeline(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            await asyncio.sleep(0)  # let collections that finished together join this pass
            await self.run_pass()
            if self._queue:
                self._wake.set()
            else:
                self._wake_when_due()

    def _wake_when_due(self) -> None:
        """A pass when the earliest timer a stage names is due, if that comes before the next tick (a
        group's group_wait ends): otherwise it would be told up to a whole tick late. Live only: on a
        simulated clock, time moves by ticks."""
        if not isinstance(self.clock, SystemClock):
            return
        due = min((d for d in (s.next_due() for s in self.loop if hasattr(s, "next_due")) if d is not None),
                  default=None)
        if due is None or due - self.clock.now() >= self.tick:
            return
        if self._due_timer is not None:
            self._due_timer.cancel()
        self._due_timer = asyncio.get_running_loop().call_later(max(0.0, due - self.clock.now()), self._wake.set)

    async def _ticker(self) -> None:
        while True:
            await self.clock.sleep(self.tick)
            self._wake.set()

    async def _run_stages(self, batch: Batch) -> bool:
        """Run the pass; True when its records were written (the record stage ran and did not fail)."""
        recorded = False
        for stage in self.loop:
            started = time.perf_counter()
            try:
                await stage.run(batch)
                recorded = recorded or stage is self.stages.record
            except Exception:
                self.metrics.stage_errors.labels(stage.name).inc()
                log.exception("pipeline stage %s failed; continuing with the next stage", stage.name)
                if stage is self.stages.persist:
                    break  # nothing after persist acts on data we could not store
            finally:
                self.metrics.pipeline_duration.labels(stage.name).observe(time.perf_counter() - started)
                self.metrics.writes_in_flight.set(self.writer.in_flight)
        self.passes += 1
        return recorded

    async def _flush_unwritten(self) -> None:
        for attempt in range(STOP_RETRIES):
            if not self.stages.persist.pending:
                return
            await asyncio.sleep(0.2 * 2 ** attempt)  # real time: the store needs real time to come back
            await self.run_pass()
        if self.stages.persist.pending:
            log.error("stopping with %d batches the store would not take; they are lost",
                      self.stages.persist.pending)

    async def _maintenance(self) -> None:
        """Store housekeeping (roll-ups, compaction, retention): beside the loop, not in a pass, so a
        long compaction never delays a pass."""
        while True:
            await self.clock.sleep(MAINTENANCE_EVERY_S)
            try:
                await self.writer.call(self.store.maintain, self.clock.now())
            except Exception:
                self.metrics.stage_errors.labels("maintenance").inc()
                log.exception("store maintenance failed; will retry")

    async def _watch_loop_lag(self) -> None:
        while True:
            t0 = time.monotonic()
            await asyncio.sleep(1.0)
            self.metrics.loop_lag.set(max(0.0, time.monotonic() - t0 - 1.0))

    # ----------------------------------------------------------------------------- views

    def refresh_metrics(self) -> None:
        """Figures that cost a computation (quantiles over recent runs) are set when /metrics is read,
        not on every pipeline pass."""
        if self._scheduler is not None:
            lag = self._scheduler.stats.snapshot()["start_lag_p99_s"]
            if lag == lag:  # not NaN
                self.metrics.collect_start_lag_p99.set(lag)

    def _samples_ingested(self) -> int:
        return int(sum(s.value for m in self.metrics.samples_ingested.collect() for s in m.samples
                       if s.name.endswith("_total")))

    def health(self) -> dict[str, str]:
        tracker = self.stages.health.tracker
        return {s.name: tracker.service_health(s.name).value for s in self.config.services}

    def stats(self) -> dict[str, Any]:
        sched = self._scheduler
        return {
            "running": self.running,
            "uptime_s": (self.clock.now() - self.started_at) if self.started_at else 0.0,
            "collectors": len(self.collectors),
            "collections": sched.stats.runs if sched else 0,
            "probes_run": self.probes_seen,
            "collection_failures": sched.stats.failures if sched else 0,
            "pipeline_passes": self.passes,
            "samples_pushed": self.samples_pushed,
            "samples_ingested": self._samples_ingested(),
            "queue_depth": len(self._queue),
            "alerts_firing": len(self.stages.book.firing),
        }
