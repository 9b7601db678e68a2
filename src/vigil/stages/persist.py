"""The persist stage: samples, probe results and pushed samples to the store, through the one writer.

Collected data the store refuses is kept (bounded) and retried on later passes, in order, so a
database restart loses nothing; later stages do not act on data that could not be stored. A push is
different: its caller is waiting, so it is stored whole or refused whole (the caller gets the error
and may retry), never kept behind the caller's back."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from vigil.model import ProbeResult, Sample
from vigil.pipeline import Batch, Offload
from vigil.selfmetrics import SelfMetrics
from vigil.store.faces import SampleStore

log = logging.getLogger("vigil.engine")

MAX_PENDING_SAMPLES = 2_000_000  # kept in memory while the store is down, then the oldest are dropped
RETRY_EVERY_S = 5.0  # while the store is down, a pass that brings nothing new retries this often


@dataclass
class Unwritten:
    samples: list[Sample] = field(default_factory=list)
    probes: list[ProbeResult] = field(default_factory=list)


class PersistStage:
    name = "persist"

    def __init__(self, store: SampleStore, writer: Offload, metrics: SelfMetrics) -> None:
        self.store, self.writer, self.metrics = store, writer, metrics
        self._pending: list[Unwritten] = []
        self._failed_at: float | None = None
        self.dropped = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    @property
    def pending(self) -> int:
        """Collected batches the store has not taken yet."""
        return len(self._pending)

    async def run(self, batch: Batch) -> None:
        collected = Unwritten(list(batch.samples), list(batch.probes))
        if batch.pushes:  # first: a push's caller is waiting, and it does not wait on collected data
            await self._write_pushes(batch)
        if collected.samples or collected.probes:
            self._pending.append(collected)
        elif not self._pending or (self._failed_at is not None and batch.now - self._failed_at < RETRY_EVERY_S):
            return
        await self._write_pending(batch.now)

    async def _write_pending(self, now: float) -> None:
        while self._pending:
            head = self._pending[0]
            try:
                if head.samples:
                    await self.writer.call(self.store.write_samples, head.samples)
                if head.probes:
                    await self.writer.call(self.store.write_probe_results, head.probes)
            except Exception as exc:  # the store is down or refused: keep the batch for retry
                self._trim()
                if self._failed_at is None:
                    log.error("store write failed (%s: %s); keeping collected data for retry",
                              type(exc).__name__, exc)
                self._failed_at = now
                raise
            self._pending.pop(0)
            self.metrics.samples_ingested.labels("collect").inc(len(head.samples))
        if self._failed_at is not None:
            log.info("store writes succeed again; every kept batch is written")
            self._failed_at = None

    async def _write_pushes(self, batch: Batch) -> None:
        """All pushes of a pass in one atomic write; each caller hears how it went."""
        pushes, batch.pushes = batch.pushes, []
        keys = [k for p in pushes for k in p.keys]
        try:
            await self.writer.call(self.store.write_batch, keys, np.concatenate([p.ts for p in pushes]),
                                   np.concatenate([p.values for p in pushes]))
        except Exception as exc:
            for p in pushes:
                if not p.written.done():
                    p.written.set_exception(exc)
            return
        for p in pushes:
            self.metrics.samples_ingested.labels(p.source).inc(len(p.keys))
            if not p.written.done():
                p.written.set_result(len(p.keys))
            batch.samples.extend(p.samples())  # stored: now detected and ruled like scraped samples

    def _trim(self) -> None:
        while sum(len(b.samples) for b in self._pending) > MAX_PENDING_SAMPLES and len(self._pending) > 1:
            lost = self._pending.pop(0)
            self.dropped += len(lost.samples)
            log.error("store unavailable too long: dropped %d oldest samples", len(lost.samples))
