"""The scale stage: the control loop of each service with a `scaling:` policy, driven by the passes.

Each pass notes the newest sample of every policy's metric. When a service's `sync_period` comes due
(on a fixed grid of engine time) and its metric is fresh, the stage starts one control step: ask the
actuator how many replicas are ready, decide (HPA, predictive floor, or shadow: `ScaleController`) and
act through the actuator with central retry and verification. The step runs beside the pass (an
actuator is a remote call, verification waits for replicas), at most one per service at a time; the
pass after it finished takes its Decision (inputs, forecast, winning rule, outcome) into its batch.

An actuator that owns its replicas (the `process` actuator starts with none) is first brought up to
`min_replicas`, as creating a Deployment with that count would: there is no metric to decide on before
the service runs. That start-up scale is recorded too (`rule: CurrentBelowMin`). What an actuator did
on its own (the process actuator replacing a replica that exited) is recorded as an event and a
decision (`kind: replica`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from vigil.act.actuators.base import Actuator
from vigil.act.scaling.controller import ScaleController
from vigil.act.scaling.policy import ScalePolicy
from vigil.audit import AuditLog
from vigil.clock import Clock
from vigil.model import Decision, Event, SeriesKey
from vigil.pipeline import Batch
from vigil.stages.record import RecordStage

log = logging.getLogger("vigil.scaling")

STALE_PERIODS = 4  # a metric older than this many control periods is not acted on
STOP_WAIT_S = 10.0  # at stop, steps under way get this long to finish (a verification may wait longer)


@dataclass
class ScaledService:
    """One service's scaling parts, as app.py wires them: its policy, its actuator and the series
    the policy reads."""

    name: str
    metric: SeriesKey
    per_replica: bool  # the metric is a total (requests/s, queue length) to divide by the replicas
    policy: ScalePolicy
    actuator: Actuator


@dataclass
class _Loop:
    service: ScaledService
    controller: ScaleController
    due: float
    start_from: int | None = None  # requested replicas below min at start: bring up first
    job: asyncio.Task[Decision] | None = None
    took: float = 0.0  # how long the last step ran (for the audit record)


class ScalingStage:
    name = "scale"

    def __init__(self, clock: Clock, services: list[ScaledService], record: RecordStage,
                 audit: AuditLog | None = None, paused: Any = None) -> None:
        self.clock = clock
        self.audit = audit  # every scaling action taken, and every one the kill switch held back
        self.paused = paused or (lambda: False)  # the kill switch: Automation.is_paused
        self.services = services
        self.record = record  # writes what finished after the last pass, at stop
        self.latest: dict[SeriesKey, tuple[float, float]] = {}
        self.loops: dict[str, _Loop] = {}
        self.last: dict[str, Decision] = {}  # newest decision per service (the demo shows it)
        self.decisions = 0

    @property
    def controllers(self) -> dict[str, ScaleController]:
        return {name: loop.controller for name, loop in self.loops.items()}

    async def start(self) -> None:
        now = self.clock.now()
        for svc in self.services:
            cfg = svc.policy.config
            try:
                requested = await svc.actuator.requested_replicas()
            except Exception:
                log.exception("%s: could not ask the actuator for its replica count", svc.name)
                requested = None
            try:
                replicas = requested if requested is not None else await svc.actuator.ready_replicas()
            except Exception:
                replicas = max(cfg.min_replicas, 1)
            controller = ScaleController(svc.policy, svc.actuator, self.clock, self._reader(svc),
                                         replicas=max(replicas, cfg.min_replicas, 1))
            below = requested if requested is not None and requested < cfg.min_replicas else None
            self.loops[svc.name] = _Loop(svc, controller, now + cfg.sync_period, below)

    def _reader(self, svc: ScaledService) -> Any:
        async def read() -> float:
            _, value = self.latest[svc.metric]
            if not svc.per_replica:
                return value  # already an average per replica (utilization)
            return value / max(1, self.loops[svc.name].controller.replicas)
        return read

    async def run(self, batch: Batch) -> None:
        if not self.loops:
            return
        wanted = {svc.metric for svc in self.services}
        for s in batch.samples:
            if s.key in wanted:
                seen = self.latest.get(s.key)
                if seen is None or s.ts >= seen[0]:
                    self.latest[s.key] = (s.ts, s.value)
        for loop in self.loops.values():
            self._take_notes(loop.service, batch)
            self._collect(loop, batch)
            if loop.job is None:
                self._maybe_step(loop, batch.now)

    def _maybe_step(self, loop: _Loop, now: float) -> None:
        if loop.start_from is not None:
            if self.paused():
                return  # the start-up scale waits for resume: after it there is a metric to decide on
            current, loop.start_from = loop.start_from, None
            loop.job = asyncio.ensure_future(self._timed(loop, self._bring_to_min(loop.controller, current)))
            return
        period = loop.service.policy.config.sync_period
        if now < loop.due:
            return
        loop.due = loop.due + period if loop.due + period > now else now + period  # a fixed grid
        seen = self.latest.get(loop.service.metric)
        if seen is None or now - seen[0] > STALE_PERIODS * period:
            return  # no fresh metric: deciding on old data would be a guess
        loop.job = asyncio.ensure_future(self._timed(loop, loop.controller.step(self.paused)))

    async def _timed(self, loop: _Loop, step: Any) -> Decision:
        started = self.clock.monotonic()
        try:
            return await step
        finally:
            loop.took = self.clock.monotonic() - started

    def _collect(self, loop: _Loop, batch: Batch) -> None:
        if loop.job is None or not loop.job.done():
            return
        job, loop.job = loop.job, None
        try:
            decision = job.result()
        except Exception:
            log.exception("%s: scaling step failed; the next period tries again", loop.service.name)
            return
        self.last[decision.subject] = decision
        self.decisions += 1
        batch.decisions.append(decision)
        if self.audit is not None and (decision.result.get("act") or decision.result.get("paused")):
            self.audit.append("engine", "scale", {"rule": decision.rule, "signal": str(loop.service.metric)},
                              decision.inputs, decision.result, loop.took, service=decision.subject)

    def _take_notes(self, svc: ScaledService, batch: Batch) -> None:
        for note in svc.actuator.drain_notes():
            batch.events.append(Event(ts=batch.now, kind="actuator", service=svc.name,
                                      message=f"{svc.name}: {note.message}",
                                      data={"action": note.action, **note.inputs, **note.result}))
            batch.decisions.append(Decision(ts=batch.now, kind="replica", subject=svc.name, rule=note.action,
                                            inputs={"actuator": svc.actuator.kind, **note.inputs},
                                            result=dict(note.result)))
            if self.audit is not None:
                self.audit.append("engine", f"replica.{note.action}", note.message,
                                  {"actuator": svc.actuator.kind, **note.inputs}, dict(note.result), 0.0,
                                  service=svc.name)

    async def _bring_to_min(self, controller: ScaleController, current: int) -> Decision:
        policy, cfg = controller.policy, controller.policy.config
        target = cfg.min_replicas
        act = cfg.mode != "shadow" and not cfg.dry_run
        held = act and self.paused()
        act = act and not held
        inputs = {"mode": cfg.mode, "current_replicas": current, "min_replicas": target,
                  "note": "start-up: the target runs fewer than min_replicas, and no metric exists "
                          "before it runs"}
        result: dict[str, Any] = {"replicas": target, "act": act}
        if act:
            result["outcome"] = await controller.apply(target, current)
        elif held:
            result.update(paused=True, outcome={"status": "paused", "detail": "automation is paused: not scaled"})
        return Decision(ts=self.clock.now(), kind="scale", subject=policy.service, rule="CurrentBelowMin",
                        inputs=inputs, result=result)

    async def replica_counts(self) -> dict[str, tuple[int, int | None, bool]]:
        """Service -> (replicas vigil set, replicas the actuator reports ready (None if it cannot say),
        whether a step is under way: while one is, the two may differ)."""
        out: dict[str, tuple[int, int | None, bool]] = {}
        for name, loop in self.loops.items():
            try:
                ready: int | None = await loop.service.actuator.ready_replicas()
            except Exception:
                ready = None
            out[name] = (loop.controller.replicas, ready, loop.job is not None and not loop.job.done())
        return out

    async def close(self) -> None:
        """Steps under way get a moment to finish and are recorded (a scale call is not abandoned
        half-way; a long verification is); then each actuator closes."""
        jobs = [loop.job for loop in self.loops.values() if loop.job is not None]
        if jobs:
            _, late = await asyncio.wait(jobs, timeout=STOP_WAIT_S)
            for job in late:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            batch = Batch(now=self.clock.now())
            for loop in self.loops.values():
                if loop.job is not None and not loop.job.cancelled():
                    self._collect(loop, batch)
            await self.record.run(batch)
        for loop in self.loops.values():
            try:
                await loop.service.actuator.close()  # e.g. the process actuator stops its replicas
            except Exception:
                log.exception("could not close the actuator of %s", loop.service.name)
