"""ScaleController: one service's control loop, wiring a ScalePolicy to an actuator on a Clock.

Each period: read the metric (a callable the engine provides), ask the actuator how many replicas are
ready, decide, and when the decision says act, scale through `execute_scale` (central retry and
verification). The scale event is stored only once the actuator accepted the change (as upstream
stores it after a successful rescale); the outcome is added to the decision's result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from vigil.act.actuators.base import ActuationError, Actuator, execute_scale
from vigil.act.scaling.policy import Observation, ScalePolicy
from vigil.clock import Clock
from vigil.model import Decision


class ScaleController:
    def __init__(self, policy: ScalePolicy, actuator: Actuator, clock: Clock,
                 read_metric: Callable[[], Awaitable[float]], replicas: int) -> None:
        self.policy = policy
        self.actuator = actuator
        self.clock = clock
        self.read_metric = read_metric
        self.replicas = replicas  # the count vigil last set (spec.replicas)

    async def step(self, paused: Callable[[], bool] = lambda: False) -> Decision:
        """One period: observe, decide, act. While `paused()` (the kill switch) the decision is made
        and recorded as paused, and nothing is scaled."""
        try:
            ready = await self.actuator.ready_replicas()
        except ActuationError as exc:
            ready = self.replicas
            note = f"ready count unavailable ({exc}); assumed {ready}"
        else:
            note = ""
        metric = await self.read_metric()
        decision = self.policy.decide(Observation(self.replicas, ready, metric))
        if note:
            decision.inputs["note"] = note
        if decision.result["act"] and paused():
            decision.result.update(act=False, paused=True,
                                   outcome={"status": "paused", "detail": "automation is paused: not scaled"})
        if decision.result["act"]:
            decision.result["outcome"] = await self.apply(int(decision.result["replicas"]), self.replicas)
        return decision

    async def apply(self, target: int, previous: int) -> dict:
        """Scale to `target`; once the actuator accepted it, store the scale event. -> the outcome."""
        outcome = await execute_scale(self.actuator, target, self.clock, dry_run=self.policy.config.dry_run)
        if outcome.applied:
            self.policy.scaled(previous, target)
            self.replicas = target
        return outcome.summary()

    async def run(self, stop: Callable[[], bool]) -> None:
        period = self.policy.config.sync_period
        while not stop():
            started = self.clock.monotonic()
            await self.step()
            await self.clock.sleep(max(0.0, period - (self.clock.monotonic() - started)))
