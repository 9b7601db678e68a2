"""The loop, written down once:

    collect → persist → health → detect → decide → act/notify → record

Sources are scheduled on the injected Clock and hand their Collections to a queue; the pipeline
drains the queue into a Batch and passes it through the stages in order. A failing stage is
counted and logged and never stops the loop; a failing store keeps the batch for retry."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, Sequence

import numpy as np

from vigil.clock import Clock, SystemClock
from vigil.config import VigilConfig
from vigil.model import Event, Health, SeriesKey
from vigil.pipeline import Batch, Stage
from vigil.selfmetrics import SelfMetrics
from vigil.writer import StoreWriter

log = logging.getLogger("vigil.engine")

MAINTENANCE_EVERY_S = 60.0
MAX_BATCH_COLLECTIONS = 5_000
MAX_PENDING_SAMPLES = 2_000_000  # kept in memory while the store is down, then the oldest are dropped
RETRY_EVERY_S = 5.0  # how often unwritten batches are retried when no new data arrives
STOP_RETRIES = 5  # attempts to write what is left when stopping


class PersistStage:
    """Writes samples and probe results. If the store fails, the batch is kept and retried on the
    next pass (bounded), so a database restart loses nothing."""

    name = "persist"

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self._pending: list[Batch] = []
        self.dropped = 0

    async def run(self, batch: Batch) -> None:
        self._pending.append(batch)
        store, writer = self.engine.store, self.engine.writer
        while self._pending:
            head = self._pending[0]
            try:
                if head.samples:
                    await writer.call(store.write_samples, head.samples)
                if head.probes:
                    await writer.call(store.write_probe_results, head.probes)
            except Exception as exc:  # the store is down or refused: keep the batch for retry
                self._trim()
                log.error("store write failed (%s); %d batches kept for retry", type(exc).__name__,
                          len(self._pending))
                raise
            self._pending.pop(0)
            self.engine.metrics.samples_ingested.labels("collect").inc(len(head.samples))

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _trim(self) -> None:
        while sum(len(b.samples) for b in self._pending) > MAX_PENDING_SAMPLES and len(self._pending) > 1:
            lost = self._pending.pop(0)
            self.dropped += len(lost.samples)
            log.error("store unavailable too long: dropped %d oldest samples", len(lost.samples))


class HealthStage:
    """Turns probe results into health states (with thresholds) and records each change."""

    name = "health"

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine

    async def run(self, batch: Batch) -> None:
        tracker = self.engine.health_tracker
        changes = []
        for result in batch.probes:
            outcome = "ok" if result.ok else "fail"
            self.engine.metrics.probes_run.labels(result.service, result.probe, outcome).inc()
            self.engine.metrics.probe_duration.labels(result.service, result.probe).observe(result.latency_s)
            change = tracker.observe(result)
            if change is not None:
                changes.append(change)
        for change in changes:
            batch.events.append(Event(
                ts=change.ts, kind="health", service=change.service,
                    message=f"{change.service}/{change.probe} {change.before.value} -> {change.after.value}: "
                        f"{change.reason}",
                data={"probe": change.probe, "before": change.before.value, "after": change.after.value,
                      "service_before": change.service_before.value,
                      "service_after": change.service_after.value, **change.evidence}))
            await self.engine.writer.call(self.engine.store.set_health, change.service, change.probe,
                                          change.after, change.ts, change.reason)
        for service in self.engine.service_names:
            h = tracker.service_health(service)
            self.engine.metrics.service_healthy.labels(service).set(
                {Health.HEALTHY: 1, Health.UNHEALTHY: 0}.get(h, -1))


class RecordStage:
    """Writes what the stages concluded: signals, decisions and events."""

    name = "record"

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine

    async def run(self, batch: Batch) -> None:
        store, writer = self.engine.store, self.engine.writer
        if batch.signals:
            await writer.call(store.write_signals, batch.signals)
        if batch.decisions:
            await writer.call(store.write_decisions, batch.decisions)
        if batch.events:
            for e in batch.events:
                log.info("%s", e.message)
            await writer.call(store.append_events, batch.events)


class Engine:
    def __init__(self, config: VigilConfig, store: Any, clock: Clock | None = None,
                 collectors: Sequence[Any] | None = None, stages: Sequence[Stage] | None = None,
                 metrics: SelfMetrics | None = None) -> None:
        from vigil.sources import HealthTracker, HttpPool, build_collectors

        self.config = config
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.metrics = metrics or SelfMetrics()
        self.writer = StoreWriter()
        self.http = HttpPool()  # one keep-alive pool for every HTTP probe and scrape
        self.collectors = list(collectors) if collectors is not None else build_collectors(config, self.http)
        self.service_names = [s.name for s in config.services]
        self.health_tracker = HealthTracker.from_config(config)
        # The order of the loop. Later stages (detect, decide, act, notify) are inserted before record.
        self.persist = PersistStage(self)
        self.stages: list[Stage] = [self.persist, HealthStage(self), *(stages or []), RecordStage(self)]
        # Collections wait here for the pipeline. A deque plus an event (not an asyncio.Queue): the
        # pipeline never holds a collection outside the pass lock, so stop() can never lose one.
        self._queue: deque[Any] = deque()
        self._arrived = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._scheduler: Any = None
        self._pass_lock = asyncio.Lock()  # one pass at a time: stop()'s drain and the loop never overlap
        self.running = False
        self.started_at: float | None = None
        self.passes = 0
        self.samples_pushed = 0
        self.probes_seen = 0
        self._collect_errors: dict[tuple[str, str], str] = {}

    def insert_stage(self, stage: Stage) -> None:
        """Add a stage to the loop, after the existing ones and before record."""
        self.stages.insert(len(self.stages) - 1, stage)

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
        for stage in self.stages:  # stages that need set-up (e.g. compiling detectors) do it now
            start = getattr(stage, "start", None)
            if start is not None:
                await start()
        self._scheduler = Scheduler(self.collectors, self.clock, self._deliver,
                                    max_concurrency=self.config.engine.max_concurrency)
        self._tasks = [asyncio.create_task(self._pipeline(), name="vigil-pipeline"),
                       asyncio.create_task(self._retry_unwritten(), name="vigil-retry"),
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
        await self.drain()
        await self._flush_unwritten()
        for stage in self.stages:  # stages that keep state save it now (e.g. detectors)
            close = getattr(stage, "close", None)
            if close is not None:
                try:
                    await close()
                except Exception:
                    log.exception("stage %s could not save its state", stage.name)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.http.aclose()
        try:
            await self.writer.call(self.store.append_events, [Event(
                ts=self.clock.now(), kind="engine", service=None, message="vigil stopped")])
        except Exception:  # the store may be the reason we are stopping
            log.exception("could not record the stop event")
        await asyncio.to_thread(self.writer.close)

    async def drain(self) -> None:
        """Run the pipeline over everything queued so far (used on stop and by tests)."""
        while self._queue:
            async with self._pass_lock:
                await self._run_stages(self._take_batch())

    # ----------------------------------------------------------------------------- the loop

    async def _deliver(self, collection: Any) -> None:
        self._queue.append(collection)
        self._arrived.set()
        self.metrics.queue_depth.set(len(self._queue))

    def _take_batch(self) -> Batch:
        """Everything queued, in arrival order (at most MAX_BATCH_COLLECTIONS)."""
        batch = Batch(now=self.clock.now())
        taken = [self._queue.popleft() for _ in range(min(len(self._queue), MAX_BATCH_COLLECTIONS))]
        for c in taken:
            batch.samples.extend(c.samples)
            if c.probe is not None:
                batch.probes.append(c.probe)
            else:
                self._note_collect_outcome(batch, c)
        self.probes_seen += len(batch.probes)
        self.metrics.queue_depth.set(len(self._queue))
        return batch

    def _note_collect_outcome(self, batch: Batch, c: Any) -> None:
        """A metric source that starts failing, changes its error, or recovers is an event; the same
        error every interval is not (a Prometheus that is down would flood the log)."""
        key = (c.service, c.source)
        before = self._collect_errors.get(key)
        if c.error == before:
            return
        if c.error:
            self._collect_errors[key] = c.error
            batch.events.append(Event(ts=c.ts, kind="collect_error", service=c.service,
                                      message=f"{c.service}/{c.source}: {c.error}", data={"source": c.source}))
        else:
            del self._collect_errors[key]
            batch.events.append(Event(ts=c.ts, kind="collect_recovered", service=c.service,
                                      message=f"{c.service}/{c.source} collecting again", data={"source": c.source}))

    async def _pipeline(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            await asyncio.sleep(0)  # let collections that finished together join this batch
            async with self._pass_lock:
                if self._queue:
                    await self._run_stages(self._take_batch())
            if self._queue:
                self._arrived.set()

    async def _run_stages(self, batch: Batch) -> None:
        for stage in self.stages:
            started = time.perf_counter()
            try:
                await stage.run(batch)
            except Exception:
                self.metrics.stage_errors.labels(stage.name).inc()
                log.exception("pipeline stage %s failed; continuing with the next stage", stage.name)
                if stage.name == "persist":
                    break  # nothing after persist should act on data we could not store
            finally:
                self.metrics.pipeline_duration.labels(stage.name).observe(time.perf_counter() - started)
                self.metrics.writes_in_flight.set(self.writer.in_flight)
        self.passes += 1

    async def _retry_unwritten(self) -> None:
        """Batches the store refused are retried even when no new data arrives."""
        while True:
            await self.clock.sleep(RETRY_EVERY_S)
            if self.persist.pending:
                async with self._pass_lock:
                    await self._run_stages(Batch(now=self.clock.now()))

    async def _flush_unwritten(self) -> None:
        for attempt in range(STOP_RETRIES):
            if not self.persist.pending:
                return
            await asyncio.sleep(0.2 * 2 ** attempt)  # real time: the store needs real time to come back
            async with self._pass_lock:
                await self._run_stages(Batch(now=self.clock.now()))
        if self.persist.pending:
            log.error("stopping with %d batches the store would not take; they are lost", self.persist.pending)

    async def _maintenance(self) -> None:
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

    # ----------------------------------------------------------------------------- push and views

    async def ingest(self, keys: Sequence[SeriesKey], ts: np.ndarray, values: np.ndarray,
                     source: str = "push") -> int:
        """Write a validated batch atomically (through the one writer) and feed it to the stages."""
        n = await self.writer.call(self.store.write_batch, keys, ts, values)
        self.metrics.samples_ingested.labels(source).inc(n)
        self.samples_pushed += n
        return n

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
        return {s: self.health_tracker.service_health(s).value for s in self.service_names}

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
        }

