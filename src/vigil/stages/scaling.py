"""The scaling loop of each service with a `scaling:` policy, run beside the pipeline.

Every `sync_period` (on the engine's Clock) each controller reads its metric (the newest sample the
pipeline saw for the policy's series), asks the actuator how many replicas are ready, decides (HPA,
predictive floor, or shadow) and acts through the actuator with central retry and verification.
Every decision is recorded with its inputs, forecast, winning rule and result.

An actuator that owns its replicas (the `process` actuator starts with none) is first brought up to
`min_replicas`, as creating a Deployment with that count would: there is no metric to decide on
before the service runs. That start-up scale is recorded too (`rule: CurrentBelowMin`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from vigil.clock import Clock
from vigil.config import VigilConfig
from vigil.model import Decision, SeriesKey
from vigil.pipeline import Batch

log = logging.getLogger("vigil.scaling")

STALE_PERIODS = 4  # a metric older than this many control periods is not acted on


class ScalingStage:
    name = "scale"

    def __init__(self, config: VigilConfig, store: Any, writer: Any, clock: Clock,
                 actuators: dict[str, Any] | None = None) -> None:
        self.config, self.store, self.writer, self.clock = config, store, writer, clock
        self.services = [s for s in config.services if s.scaling is not None]
        self._actuators = actuators or {}
        self.latest: dict[SeriesKey, tuple[float, float]] = {}
        self.metric_keys: dict[str, SeriesKey] = {}
        self.controllers: dict[str, Any] = {}
        self.last: dict[str, Decision] = {}  # newest decision per service (the demo shows it)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.decisions = 0

    async def start(self) -> None:
        from vigil.act.actuators import build_actuator
        from vigil.act.actuators.memory import MemoryActuator
        from vigil.act.scaling.controller import ScaleController
        from vigil.act.scaling.floor import make_forecaster
        from vigil.act.scaling.policy import ScalePolicy

        for svc in self.services:
            cfg = svc.scaling
            key = SeriesKey.parse(cfg.metric.series) if cfg.metric.series else None
            if key is not None and "service" not in key.label_map:
                key = SeriesKey.of(key.name, {**key.label_map, "service": svc.name})
            if key is None:
                log.warning("%s: scaling has no metric.series; its policy cannot decide", svc.name)
                continue
            self.metric_keys[svc.name] = key
            actuator = self._actuators.get(svc.name)
            if actuator is None:
                # Without an actuator the policy still decides and records (as shadow mode would).
                actuator = build_actuator(cfg.actuator, svc.name) if cfg.actuator else MemoryActuator(
                    service=svc.name, replicas=cfg.min_replicas or 1)
            forecaster = make_forecaster(cfg.predictive.forecaster) if cfg.mode != "reactive" else None
            policy = ScalePolicy(svc.name, cfg, self.clock, forecaster=forecaster)
            requested = await _requested(actuator)
            try:
                replicas = requested if requested is not None else await actuator.ready_replicas()
            except Exception:
                replicas = max(cfg.min_replicas, 1)
            controller = ScaleController(policy, actuator, self.clock, self._reader(svc.name, key),
                                         replicas=max(replicas, cfg.min_replicas, 1))
            self.controllers[svc.name] = controller
            start_from = requested if requested is not None and requested < cfg.min_replicas else None
            self._tasks.append(asyncio.create_task(self._loop(svc.name, controller, start_from),
                                                   name=f"scale-{svc.name}"))

    def _reader(self, service: str, key: SeriesKey) -> Any:
        kind = next(s for s in self.services if s.name == service).scaling.metric.kind

        async def read() -> float:
            _, value = self.latest[key]
            if kind == "utilization":
                return value  # already an average per replica
            ready = max(1, self.controllers[service].replicas)
            return value / ready  # totals (requests/s, queue length) per replica
        return read

    async def run(self, batch: Batch) -> None:
        if not self.metric_keys:
            return
        wanted = set(self.metric_keys.values())
        for s in batch.samples:
            if s.key in wanted:
                seen = self.latest.get(s.key)
                if seen is None or s.ts >= seen[0]:
                    self.latest[s.key] = (s.ts, s.value)

    async def _loop(self, service: str, controller: Any, start_from: int | None = None) -> None:
        period = controller.policy.config.sync_period
        key = self.metric_keys[service]
        if start_from is not None:
            try:
                await self._record(await self._bring_to_min(controller, start_from))
            except Exception:
                log.exception("%s: could not bring the target up to min_replicas", service)
        while not self._stopping:
            await self.clock.sleep(period)
            seen = self.latest.get(key)
            if seen is None or self.clock.now() - seen[0] > STALE_PERIODS * period:
                continue  # no fresh metric: deciding on old data would be a guess
            try:
                decision = await controller.step()
            except Exception:
                log.exception("%s: scaling step failed; the next period tries again", service)
                continue
            await self._record(decision)

    async def _bring_to_min(self, controller: Any, current: int) -> Decision:
        policy, cfg = controller.policy, controller.policy.config
        target = cfg.min_replicas
        act = cfg.mode != "shadow" and not cfg.dry_run
        inputs = {"mode": cfg.mode, "current_replicas": current, "min_replicas": target,
                  "note": "start-up: the target runs fewer than min_replicas, and no metric exists "
                          "before it runs"}
        result: dict[str, Any] = {"replicas": target, "act": act}
        if act:
            result["outcome"] = await controller.apply(target, current)
        return Decision(ts=self.clock.now(), kind="scale", subject=policy.service, rule="CurrentBelowMin",
                        inputs=inputs, result=result)

    async def _record(self, decision: Decision) -> None:
        self.last[decision.subject] = decision
        self.decisions += 1
        try:
            await self.writer.call(self.store.write_decisions, [decision])
        except Exception:
            log.exception("could not record a scaling decision for %s", decision.subject)

    async def replica_counts(self) -> dict[str, tuple[int, int | None]]:
        """Service -> (replicas vigil set, replicas the actuator reports ready; None if it cannot say)."""
        out: dict[str, tuple[int, int | None]] = {}
        for name, controller in self.controllers.items():
            try:
                ready: int | None = await controller.actuator.ready_replicas()
            except Exception:
                ready = None
            out[name] = (controller.replicas, ready)
        return out

    async def close(self) -> None:
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for controller in self.controllers.values():
            close = getattr(controller.actuator, "close", None)
            if close is not None:  # e.g. the process actuator stops the replicas it started
                try:
                    result = close()
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:
                    log.exception("could not close the actuator of %s", controller.policy.service)


async def _requested(actuator: Any) -> int | None:
    """The replica count the actuator was asked for, when it keeps one itself (process, memory)."""
    ask = getattr(actuator, "requested_replicas", None)
    if ask is None:
        return None
    try:
        return int(await ask())
    except Exception:
        return None
