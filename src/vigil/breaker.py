"""A circuit breaker per endpoint: stop calling something that keeps failing, try it again later.

Generic (the outbox uses one per receiver integration; actuators and runbook webhooks one per endpoint
through `Breakers`, below) and driven by the
`now` its caller passes in, so it runs on a fake clock: no timers, no wall-clock reads.

closed     every call goes through; results are counted over a sliding `window`. With at least
           `min_calls` in the window and a failure ratio of `failure_ratio` or more, it opens.
open       no call goes through for `open_for`; then the next call attempt half-opens it.
half-open  `trial_calls` calls go through (no more while they are out). One failure opens it again;
           `trial_calls` successes close it (with an empty window).
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


# For a gauge in /metrics: vigil_breaker_state{endpoint} 0 closed, 1 open, 2 half-open.
STATE_CODES = {BreakerState.CLOSED: 0, BreakerState.OPEN: 1, BreakerState.HALF_OPEN: 2}


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failure_ratio: float = 0.5
    window: float = 60.0
    min_calls: int = 5
    open_for: float = 60.0
    trial_calls: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.failure_ratio <= 1:
            raise ValueError(f"breaker failure_ratio must be in (0, 1], got {self.failure_ratio}")
        if self.window <= 0 or self.open_for < 0:
            raise ValueError("breaker window must be positive and open_for not negative")
        if self.min_calls < 1 or self.trial_calls < 1:
            raise ValueError("breaker min_calls and trial_calls must be at least 1")


class CircuitBreaker:
    def __init__(self, name: str, policy: BreakerPolicy | None = None) -> None:
        self.name = name
        self.policy = policy or BreakerPolicy()
        self._state = BreakerState.CLOSED
        self._calls: deque[tuple[float, bool]] = deque()  # (ts, failed) in the window, oldest first
        self._failures = 0
        self._opened_at: float | None = None
        self._trials_out = 0
        self._trial_ok = 0
        self.opened_count = 0  # how many times it opened, for /metrics

    # ------------------------------------------------------------------------------------ calls

    def allow(self, now: float) -> bool:
        """May a call start now? True reserves a trial slot when half-open: report the call's
        result with record(), or give the slot back with release() if it was not made."""
        if self._state is BreakerState.OPEN:
            if now < self._reopen_at():
                return False
            self._state, self._trials_out, self._trial_ok = BreakerState.HALF_OPEN, 0, 0
        if self._state is BreakerState.HALF_OPEN:
            if self._trials_out + self._trial_ok >= self.policy.trial_calls:
                return False
            self._trials_out += 1
        return True

    def release(self) -> None:
        """A call allowed by allow() that was not made after all."""
        if self._state is BreakerState.HALF_OPEN and self._trials_out > 0:
            self._trials_out -= 1

    def record(self, ok: bool, now: float) -> None:
        """The result of a call that allow() let through."""
        if self._state is BreakerState.HALF_OPEN:
            self._trials_out = max(0, self._trials_out - 1)
            if not ok:
                self._open(now)
            else:
                self._trial_ok += 1
                if self._trial_ok >= self.policy.trial_calls:
                    self._close()
            return
        if self._state is BreakerState.OPEN:
            return  # a late result of a call started before it opened: the decision stands
        self._calls.append((now, not ok))
        self._failures += 0 if ok else 1
        self._prune(now)
        n = len(self._calls)
        if n >= self.policy.min_calls and self._failures / n >= self.policy.failure_ratio:
            self._open(now)

    # ------------------------------------------------------------------------------------ state

    def state(self, now: float) -> BreakerState:
        """The state as of `now` (an open breaker past open_for reads half-open)."""
        if self._state is BreakerState.OPEN and now >= self._reopen_at():
            return BreakerState.HALF_OPEN
        return self._state

    def snapshot(self, now: float) -> dict[str, Any]:
        """For /metrics and the API."""
        self._prune(now)
        state = self.state(now)
        n = len(self._calls)
        return {"endpoint": self.name, "state": state.value, "state_code": STATE_CODES[state],
                "calls_in_window": n, "failures_in_window": self._failures,
                "failure_ratio": round(self._failures / n, 4) if n else 0.0,
                "opened_at": self._opened_at, "opened_count": self.opened_count,
                "retry_at": self._reopen_at() if self._state is BreakerState.OPEN else None}

    def _reopen_at(self) -> float:
        return (self._opened_at or 0.0) + self.policy.open_for

    def _open(self, now: float) -> None:
        self._state, self._opened_at = BreakerState.OPEN, now
        self._calls.clear()
        self._failures = self._trials_out = self._trial_ok = 0
        self.opened_count += 1

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._calls.clear()
        self._failures = self._trials_out = self._trial_ok = 0

    def _prune(self, now: float) -> None:
        horizon = now - self.policy.window
        while self._calls and self._calls[0][0] <= horizon:
            _, failed = self._calls.popleft()
            self._failures -= failed


class BreakerOpen(Exception):
    """A call was not made: the endpoint's breaker is open (or half-open with its trials out)."""

    def __init__(self, endpoint: str, retry_at: float | None) -> None:
        when = f"; it half-opens at {retry_at:.0f}" if retry_at is not None else ""
        super().__init__(f"circuit breaker of {endpoint} is open{when}")
        self.endpoint = endpoint
        self.retry_at = retry_at


class Breakers:
    """Every circuit breaker of vigil's calls to the outside, by endpoint: its own (actuators,
    webhooks of runbooks; made on first use) and those of other parts that keep theirs (the
    outbox's, through `watch`). /metrics and GET /api/v1/breakers read them all from here."""

    def __init__(self, policy: BreakerPolicy | None = None) -> None:
        self.policy = policy or BreakerPolicy()
        self._own: dict[str, CircuitBreaker] = {}
        self._sources: list[Callable[[float], list[dict[str, Any]]]] = []

    def get(self, endpoint: str, policy: BreakerPolicy | None = None) -> CircuitBreaker:
        found = self._own.get(endpoint)
        if found is None:
            found = self._own[endpoint] = CircuitBreaker(endpoint, policy or self.policy)
        return found

    def watch(self, source: Callable[[float], list[dict[str, Any]]]) -> None:
        """Another part's breakers: `source(now)` gives their snapshots."""
        self._sources.append(source)

    def snapshot(self, now: float) -> list[dict[str, Any]]:
        out = [b.snapshot(now) for b in self._own.values()]
        for source in self._sources:
            out.extend(source(now))
        return sorted(out, key=lambda s: s["endpoint"])

    async def call(self, endpoint: str, now: Callable[[], float], fn: Callable[[], Awaitable[T]],
                   counts_as_up: Callable[[BaseException], bool] = lambda exc: False) -> T:
        """`fn()` through the endpoint's breaker: BreakerOpen without calling while it is open. A
        failure for which `counts_as_up` is true (a refusal: the endpoint answered) does not count
        against the endpoint; a cancelled call gives its slot back."""
        breaker = self.get(endpoint)
        if not breaker.allow(now()):
            raise BreakerOpen(endpoint, breaker.snapshot(now())["retry_at"])
        try:
            result = await fn()
        except asyncio.CancelledError:
            breaker.release()
            raise
        except Exception as exc:
            breaker.record(counts_as_up(exc), now())
            raise
        breaker.record(True, now())
        return result


class BreakerMetrics:
    """`vigil_breaker_state{endpoint}` (0 closed, 1 open, 2 half-open) and `vigil_breaker_opened_total`,
    read from the Breakers when /metrics is scraped (a collector: breakers made later show up too)."""

    def __init__(self, breakers: Breakers, now: Callable[[], float]) -> None:
        self.breakers = breakers
        self.now = now

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        state = GaugeMetricFamily("vigil_breaker_state", "Circuit breaker per endpoint: 0 closed, 1 open, "
                                  "2 half-open", labels=["endpoint"])
        opened = CounterMetricFamily("vigil_breaker_opened", "Times the endpoint's breaker opened",
                                     labels=["endpoint"])
        for snap in self.breakers.snapshot(self.now()):
            state.add_metric([snap["endpoint"]], snap["state_code"])
            opened.add_metric([snap["endpoint"]], snap["opened_count"])
        yield state
        yield opened

    def describe(self) -> list[Any]:
        return []  # unchecked collector: its series vary with the endpoints
