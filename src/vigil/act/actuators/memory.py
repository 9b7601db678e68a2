"""`memory`: the fake actuator, for tests, replay and users testing their own wiring. Replicas become
ready `ready_after` calls to ready_replicas() later; failures can be scripted."""

from __future__ import annotations

from typing import Any

from vigil.act.actuators.base import ActuationError, ActuatorBase, ActuatorNote, ScaleResult


class MemoryActuator(ActuatorBase):
    kind = "memory"

    def __init__(self, config: Any = None, service: str = "", replicas: int = 1, ready_after: int = 0,
                 failures: list[ActuationError] | None = None) -> None:
        self.service = service
        self.replicas = replicas
        self.ready = replicas
        self.ready_after = ready_after
        self.failures = list(failures or [])
        self.calls: list[int] = []  # counts actually applied
        self.notes: list[ActuatorNote] = []  # what a test says it did on its own, drained by the engine
        self._polls = 0
        self.restarts: list[tuple[int, int]] = []  # (replicas restarted, at once), per restart call
        self.versions = ["v1"]  # deployed versions, the current one last

    async def scale(self, replicas: int, dry_run: bool = False) -> ScaleResult:
        if self.failures:
            raise self.failures.pop(0)
        before = self.replicas
        if replicas == before or dry_run:
            return ScaleResult(before, replicas, False, dry_run)
        self.replicas = replicas
        self.calls.append(replicas)
        self._polls = 0
        if replicas < self.ready or self.ready_after == 0:
            self.ready = replicas
        return ScaleResult(before, replicas, True)

    async def ready_replicas(self) -> int:
        self._polls += 1
        if self._polls >= self.ready_after:
            self.ready = self.replicas
        return self.ready

    async def restart(self, replicas: int | None = None, at_once: int = 1) -> int:
        if self.failures:
            raise self.failures.pop(0)
        n = self.replicas if replicas is None else min(replicas, self.replicas)
        self.restarts.append((n, at_once))
        return n

    async def rollback_version(self) -> int:
        if len(self.versions) < 2:
            raise ActuationError("no previous version to roll back to", retryable=False)
        self.versions.pop()
        return await self.restart()

    async def requested_replicas(self) -> int:
        return self.replicas

    def drain_notes(self) -> list[ActuatorNote]:
        notes, self.notes = self.notes, []
        return notes
