"""Runs every collector at its interval on the injected clock.

- Start phases are spread: collectors sharing an interval start at evenly spaced offsets within it,
  so 1,000 probes at 10 s fire about every 10 ms instead of all at once.
- Each collector has its own loop; a slow or hanging one only ever delays itself. Its run is cut at
  its timeout (plus a small margin so its own, more precise, timeout message usually wins).
- At most `max_concurrency` collections are in flight; a run waiting for a slot shows as start lag.
- A run that overruns by a whole interval skips the ticks it missed instead of firing a burst.
- Every probe result also becomes samples (probe_success, probe_duration_seconds, probe_<value>).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from vigil.clock import Clock
from vigil.sources.base import Collection, Collector, failed_collection, probe_samples

log = logging.getLogger("vigil.sources")

Deliver = Callable[[Collection], Awaitable[None]]
RESERVOIR = 4096  # recent lags/durations kept for quantiles (bounded memory)


class SchedulerStats:
    """Figures about the scheduler itself, for vigil's own /metrics and the probe benchmark.
    `lags` (actual start - scheduled start) and `durations` keep the most recent `reservoir` runs."""

    def __init__(self, reservoir: int = RESERVOIR) -> None:
        self.runs = 0
        self.failures = 0  # probe results not ok, or metric sources with an error
        self.timeouts = 0  # runs cut by the scheduler's timeout
        self.crashes = 0  # collectors that raised (a bug: collectors report failures as results)
        self.skipped = 0  # ticks skipped because the previous run overran a whole interval
        self.deliver_errors = 0
        self.in_flight = 0
        self.lags: deque[float] = deque(maxlen=reservoir)
        self.durations: deque[float] = deque(maxlen=reservoir)
        self._cached: tuple[int, dict[str, float]] | None = None

    def snapshot(self) -> dict[str, float]:
        """Counters and lag/duration quantiles. Cheap to call often: the quantiles are recomputed
        only once enough new runs (1/64 of the reservoir) have arrived."""
        cached = self._cached
        if cached is None or self.runs - cached[0] >= max(1, len(self.lags) // 64):
            lags, durations = sorted(self.lags), sorted(self.durations)
            self._cached = cached = (self.runs, {
                "start_lag_p50_s": _ranked(lags, 0.5), "start_lag_p99_s": _ranked(lags, 0.99),
                "duration_p50_s": _ranked(durations, 0.5), "duration_p99_s": _ranked(durations, 0.99),
            })
        return {
            "runs": self.runs, "failures": self.failures, "timeouts": self.timeouts,
            "crashes": self.crashes, "skipped": self.skipped, "deliver_errors": self.deliver_errors,
            "in_flight": self.in_flight, **cached[1],
        }


def quantile(values: Sequence[float] | deque[float], q: float) -> float:
    """Nearest-rank quantile; NaN when there is nothing to rank."""
    return _ranked(sorted(values), q)


def _ranked(ordered: list[float], q: float) -> float:
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class Scheduler:
    def __init__(self, collectors: Sequence[Collector], clock: Clock, deliver: Deliver,
                 max_concurrency: int = 200, stop_grace: float = 2.0,
                 stats: SchedulerStats | None = None) -> None:
        self.collectors = list(collectors)
        self.clock = clock
        self.deliver = deliver
        self.stop_grace = stop_grace
        self.stats = stats or SchedulerStats()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._tasks: list[asyncio.Task[None]] = []
        self._busy: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not self._stopping

    async def start(self) -> None:
        if self._tasks:
            raise RuntimeError("scheduler already started")
        base = self.clock.monotonic()
        for collector, offset in zip(self.collectors, start_offsets(self.collectors)):
            task = asyncio.create_task(self._loop(collector, base + offset),
                                       name=f"collect {collector.service}/{collector.name}")
            self._tasks.append(task)

    async def stop(self, grace: float | None = None) -> None:
        """Stop scheduling; let in-flight collections finish for `grace` seconds, then cancel."""
        self._stopping = True
        grace = self.stop_grace if grace is None else grace
        idle = [t for t in self._tasks if t not in self._busy]
        for t in idle:
            t.cancel()
        busy = [t for t in self._tasks if t in self._busy]
        if busy:
            _, pending = await asyncio.wait(busy, timeout=grace)
            for t in pending:
                t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for collector in self.collectors:
            close = getattr(collector, "aclose", None)
            if close is not None:
                try:
                    await close()
                except Exception:  # closing a pool must not stop the others closing
                    log.exception("closing %s/%s", collector.service, collector.name)

    async def _loop(self, collector: Collector, next_at: float) -> None:
        me = asyncio.current_task()
        assert me is not None
        while not self._stopping:
            delay = next_at - self.clock.monotonic()
            if delay > 0:
                await self.clock.sleep(delay)
            async with self._slots:
                if self._stopping:
                    return
                self._busy.add(me)
                lag = max(0.0, self.clock.monotonic() - next_at)
                collection = await self.run_once(collector, lag)
            try:
                await self.deliver(collection)
            except Exception:  # the engine's problem, not a reason to stop collecting
                self.stats.deliver_errors += 1
                log.exception("delivering %s/%s", collector.service, collector.name)
            finally:
                self._busy.discard(me)
            next_at += collector.interval
            behind = self.clock.monotonic() - next_at
            if behind >= collector.interval:
                missed = math.floor(behind / collector.interval)
                next_at += missed * collector.interval
                self.stats.skipped += missed

    async def run_once(self, collector: Collector, lag: float = 0.0) -> Collection:
        """One collection with the timeout enforced and probe samples added; never raises
        (except when cancelled)."""
        stats = self.stats
        now = self.clock.now()
        started = self.clock.monotonic()
        stats.in_flight += 1
        try:
            collection = await self._bounded(collector, now)
        finally:
            stats.in_flight -= 1
        duration = self.clock.monotonic() - started
        stats.runs += 1
        stats.lags.append(lag)
        stats.durations.append(duration)
        if collection.probe is not None:
            collection.samples.extend(probe_samples(collection.probe))
            if not collection.probe.ok:
                stats.failures += 1
        elif collection.error:
            stats.failures += 1
        return collection

    async def _bounded(self, collector: Collector, now: float) -> Collection:
        limit = collector.timeout + min(1.0, 0.1 * collector.timeout)
        started = self.clock.monotonic()
        work = asyncio.ensure_future(collector.collect(now))
        timer = asyncio.ensure_future(self.clock.sleep(limit))
        try:
            await asyncio.wait((work, timer), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            work.cancel()
            raise
        finally:
            timer.cancel()
        if not work.done():
            work.cancel()
            await asyncio.wait((work,), timeout=1.0)  # let it clean up (e.g. kill a process)
            self.stats.timeouts += 1
            return failed_collection(collector, now, f"timed out after {collector.timeout:g}s",
                                     self.clock.monotonic() - started)
        exc = asyncio.CancelledError("collection cancelled") if work.cancelled() else work.exception()
        if exc is not None:
            self.stats.crashes += 1
            log.error("collector %s/%s raised", collector.service, collector.name, exc_info=exc)
            return failed_collection(collector, now, f"collector error: {type(exc).__name__}: {exc}",
                                     self.clock.monotonic() - started)
        return work.result()


def start_offsets(collectors: Sequence[Collector]) -> list[float]:
    """Evenly spaced first-run offsets within each interval, per group of equal intervals."""
    groups: dict[float, list[int]] = {}
    for i, c in enumerate(collectors):
        groups.setdefault(c.interval, []).append(i)
    offsets = [0.0] * len(collectors)
    for interval, members in groups.items():
        for rank, i in enumerate(members):
            offsets[i] = interval * rank / len(members)
    return offsets
