"""The actuator plug point: set a replica count, and say how many replicas are ready.

Adapters are thin: they are idempotent (asking for the count that is already set changes nothing),
honour dry-run (report what would change, change nothing), and raise ActuationError saying whether a
failure is worth retrying. Retry, backoff and verification live in one place: `execute_scale` below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

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


@runtime_checkable
class Actuator(Protocol):
    kind: str

    async def scale(self, replicas: int, dry_run: bool = False) -> ScaleResult:
        """Ask for `replicas`; idempotent; on dry-run change nothing."""

    async def ready_replicas(self) -> int:
        """How many replicas are ready now (observed, not assumed)."""

    # Optional: `async def requested_replicas() -> int`, the count asked for (spec.replicas), for an
    # actuator that keeps it itself. The engine then brings a target below min_replicas up at start.


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
        cfg = getattr(actuator, "config", None)
        verify_timeout = float(getattr(cfg, "ready_timeout", None) or 60.0)
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
