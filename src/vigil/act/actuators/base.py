"""The actuator plug point: set a replica count, and say how many replicas are ready.

Adapters are thin: they are idempotent (asking for the count that is already set changes nothing),
honour dry-run (report what would change, change nothing), and raise ActuationError saying whether a
failure is worth retrying. Retry, backoff and verification live in one place: `execute_scale` below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from vigil.clock import Clock


class ActuationError(Exception):
    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(slots=True)
class ScaleResult:
    before: int  # the requested count before this call
    requested: int
    changed: bool  # false when the count was already set (idempotent) or on dry-run
    dry_run: bool = False
    detail: str = ""


@dataclass(slots=True)
class ActuatorNote:
    """Something an actuator did on its own (e.g. replaced a replica that exited), for the record:
    the engine stamps it with its clock and records it as an event and a decision."""

    action: str  # e.g. replace_replica
    message: str
    inputs: dict[str, object] = field(default_factory=dict)
    result: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Actuator(Protocol):
    kind: str

    @property
    def ready_timeout(self) -> float:
        """How long a scale may take to show ready replicas before it counts as unverified."""

    async def scale(self, replicas: int, dry_run: bool = False) -> ScaleResult:
        """Ask for `replicas`; idempotent; on dry-run change nothing."""

    async def ready_replicas(self) -> int:
        """How many replicas are ready now (observed, not assumed)."""

    async def requested_replicas(self) -> int | None:
        """The count asked for (spec.replicas) when the actuator keeps it itself (process, memory),
        else None. The engine brings a target below min_replicas up at start."""

    def drain_notes(self) -> list[ActuatorNote]:
        """What it did on its own since the last call (and forget it)."""

    async def close(self) -> None:
        """Release what it holds (the process actuator stops the replicas it started)."""


class ActuatorBase:
    """The optional parts of `Actuator` for adapters that have nothing to add: no count kept, no
    notes, nothing to close, and the `ready_timeout` of their config (60 s without one)."""

    config: Any = None

    @property
    def ready_timeout(self) -> float:
        return float(getattr(self.config, "ready_timeout", None) or 60.0)

    async def requested_replicas(self) -> int | None:
        return None

    def drain_notes(self) -> list[ActuatorNote]:
        return []

    async def close(self) -> None:
        return None


@dataclass(slots=True)
class ScaleOutcome:
    ok: bool
    status: str  # succeeded | dry_run | failed | unverified
    requested: int
    before: int | None
    ready: int | None
    attempts: int
    detail: str

    @property
    def applied(self) -> bool:
        """The actuator accepted the count (an unverified scale is still applied)."""
        return self.status in ("succeeded", "unverified")

    def summary(self) -> dict[str, object]:
        """What a scaling decision records of the outcome."""
        return {"status": self.status, "ready": self.ready, "attempts": self.attempts, "detail": self.detail}


async def execute_scale(actuator: Actuator, replicas: int, clock: Clock, *, dry_run: bool = False,
                        attempts: int = 4, backoff: float = 0.5, max_backoff: float = 10.0,
                        verify_timeout: float | None = None, poll: float = 0.2) -> ScaleOutcome:
    """Scale with retry and exponential backoff on retryable failures, then verify by observing the
    ready replica count until it matches or `verify_timeout` passes (default: the actuator's
    `ready_timeout` setting, else 60 s)."""
    if verify_timeout is None:
        verify_timeout = actuator.ready_timeout
    result: ScaleResult | None = None
    delay = backoff
    n = 0
    for n in range(1, attempts + 1):
        try:
            result = await actuator.scale(replicas, dry_run=dry_run)
            break
        except ActuationError as exc:
            if not exc.retryable or n == attempts:
                return ScaleOutcome(False, "failed", replicas, None, None, n,
                                    f"{'retryable' if exc.retryable else 'not retryable'}: {exc}")
            await clock.sleep(delay)
            delay = min(delay * 2, max_backoff)
    assert result is not None
    if dry_run:
        return ScaleOutcome(True, "dry_run", replicas, result.before, None, n,
                            f"dry run: would scale {result.before} -> {replicas}")
    deadline = clock.monotonic() + verify_timeout
    ready: int | None = None
    while True:
        try:
            ready = await actuator.ready_replicas()
        except ActuationError as exc:
            if not exc.retryable:
                return ScaleOutcome(False, "failed", replicas, result.before, None, n, f"verify: {exc}")
        if ready == replicas:
            return ScaleOutcome(True, "succeeded", replicas, result.before, ready, n,
                                f"{result.before} -> {replicas}, {ready} ready")
        if clock.monotonic() >= deadline:
            return ScaleOutcome(False, "unverified", replicas, result.before, ready, n,
                                f"asked for {replicas}, {ready} ready after {verify_timeout:g}s")
        await clock.sleep(poll)
