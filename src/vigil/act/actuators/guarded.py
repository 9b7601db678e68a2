"""An actuator behind a circuit breaker: a platform API that keeps failing is left alone for a while
instead of being hammered by every control period's retries.

The breaker counts calls to the outside (scale and ready-count reads); a refusal that is not worth
retrying (the platform answered "no") counts as the endpoint being up. While the breaker is open, calls
fail at once with a non-retryable ActuationError naming the breaker, so `execute_scale` stops and the
decision records why."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from vigil.act.actuators.base import ActuationError, Actuator, ActuatorNote, ScaleResult
from vigil.breaker import BreakerOpen, Breakers
from vigil.clock import Clock

T = TypeVar("T")


def _refusal(exc: BaseException) -> bool:
    return isinstance(exc, ActuationError) and not exc.retryable


class BreakerActuator:
    def __init__(self, inner: Actuator, breakers: Breakers, endpoint: str, clock: Clock) -> None:
        self.inner = inner
        self.breakers = breakers
        self.endpoint = endpoint
        self.clock = clock
        self.kind = inner.kind

    def __getattr__(self, name: str) -> Any:  # the adapter's own extras (e.g. the process actuator's)
        return getattr(self.inner, name)

    @property
    def ready_timeout(self) -> float:
        return self.inner.ready_timeout

    async def _through(self, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await self.breakers.call(self.endpoint, self.clock.now, fn, counts_as_up=_refusal)
        except BreakerOpen as exc:
            raise ActuationError(str(exc), retryable=False) from None

    async def scale(self, replicas: int, dry_run: bool = False) -> ScaleResult:
        if dry_run:
            return await self.inner.scale(replicas, dry_run=True)
        return await self._through(lambda: self.inner.scale(replicas))

    async def ready_replicas(self) -> int:
        return await self._through(self.inner.ready_replicas)

    async def requested_replicas(self) -> int | None:
        return await self.inner.requested_replicas()

    def drain_notes(self) -> list[ActuatorNote]:
        return self.inner.drain_notes()

    async def close(self) -> None:
        await self.inner.close()
