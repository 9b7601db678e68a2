"""How the outbox retries and what it reports: the retry policy (exponential backoff with full
jitter, give-up by attempts or age) and the outcome of each delivery step, for the timeline."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from vigil.breaker import BreakerPolicy
from vigil.config.receivers import OutboxConfig
from vigil.model import Event


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial_backoff: float = 1.0
    max_backoff: float = 300.0
    max_attempts: int = 20
    max_age: float = 3600.0  # since the first attempt (time waiting behind a group's earlier notice
    # or an open breaker does not count: that notice is not late, it is in line)

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max_backoff, initial * 2^(attempts-1))] (spreads the retries
        of many notices to one receiver that came back, instead of a thundering herd)."""
        ceiling = min(self.max_backoff, self.initial_backoff * 2.0 ** max(0, min(attempts - 1, 60)))
        return rng.uniform(0.0, ceiling)

    def exhausted(self, attempts: int, first_attempt_at: float | None, now: float) -> bool:
        age = 0.0 if first_attempt_at is None else now - first_attempt_at
        return attempts >= self.max_attempts or age >= self.max_age


@dataclass(frozen=True, slots=True)
class OutboxPolicy:
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    max_in_flight: int = 32
    max_in_flight_per_endpoint: int = 8
    attempt_timeout: float = 30.0
    keep_finished: float = 7 * 86400.0

    @classmethod
    def from_config(cls, c: OutboxConfig | None) -> OutboxPolicy:
        if c is None:
            return cls()
        b = c.breaker
        return cls(RetryPolicy(c.initial_backoff, c.max_backoff, c.max_attempts, c.max_age),
                   BreakerPolicy(b.failure_ratio, b.window, b.min_calls, b.open_for, b.trial_calls),
                   c.max_in_flight, c.max_in_flight_per_endpoint, c.attempt_timeout, c.keep_finished)


@dataclass(slots=True)
class Outcome:
    """One step of one notification: delivered | retrying | dead | skipped | recovered (was in
    flight at a restart and will be sent again)."""

    ts: float
    id: int
    key: str
    receiver: str
    integration: str
    group_key: str
    status: str
    state: str
    attempts: int
    detail: str = ""
    status_code: int | None = None
    next_at: float | None = None
    services: list[str] = field(default_factory=list)

    def event(self) -> Event:
        """As a line of the event log (kind `notification`)."""
        where = f"{self.receiver}/{self.integration}"
        message = f"notification {self.status} {self.state} to {where}"
        if self.state == "retrying" and self.next_at is not None:
            message += f" (attempt {self.attempts}, next in {max(0.0, self.next_at - self.ts):.1f}s)"
        if self.detail and self.state != "delivered":
            message += f": {self.detail}"
        data: dict[str, Any] = {"id": self.id, "key": self.key, "receiver": self.receiver,
                                "integration": self.integration, "group_key": self.group_key,
                                "status": self.status, "state": self.state, "attempts": self.attempts,
                                "status_code": self.status_code, "services": self.services}
        service = self.services[0] if len(self.services) == 1 else None
        return Event(self.ts, "notification", service, message, data)


@dataclass(slots=True)
class EnqueueResult:
    added: int = 0  # rows written (one per notice and wanted integration)
    duplicates: int = 0  # already in the outbox under the same key
    not_wanted: int = 0  # resolved notices for integrations with send_resolved false, notices for a
    # receiver without integrations
    unknown_receiver: int = 0  # written as dead letters: no receiver of that name
    deferred: int = 0  # the store refused the write: kept in memory, written at a later tick


@dataclass(slots=True)
class RequeueResult:
    requeued: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)
