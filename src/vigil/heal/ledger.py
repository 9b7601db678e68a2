"""The persisted shape of an action: a state machine with an idempotency key, and a record per step.

    pending ──► approved ──► running ──► verifying ──► succeeded
       │                        │            │
       ├──► denied / expired    │            └──► rolling_back ──► rolled_back (and the incident escalated)
       │                        └──► rolling_back                 └──► failed (and escalated)
       └── (paused, guards)                                        escalated: no rollback steps to run

Every transition is written before what it allows happens, and every step is written `running`
before it starts and with its outcome after: after a crash, a step found `running` has run (or
was running) and is marked `interrupted`, never started again (docs/healing.md#reconcile)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

PENDING, APPROVED, RUNNING, VERIFYING, ROLLING_BACK = "pending", "approved", "running", "verifying", "rolling_back"
SUCCEEDED, ROLLED_BACK, FAILED, ESCALATED, DENIED, EXPIRED = (
    "succeeded", "rolled_back", "failed", "escalated", "denied", "expired")
UNFINISHED = (PENDING, APPROVED, RUNNING, VERIFYING, ROLLING_BACK)
FINISHED = (SUCCEEDED, ROLLED_BACK, FAILED, ESCALATED, DENIED, EXPIRED)
STATES = UNFINISHED + FINISHED

# The moves the machine allows; anything else is a bug, refused loudly.
MOVES: dict[str, tuple[str, ...]] = {
    PENDING: (APPROVED, DENIED, EXPIRED),
    APPROVED: (RUNNING, ESCALATED),
    RUNNING: (VERIFYING, ROLLING_BACK, ESCALATED),
    VERIFYING: (SUCCEEDED, ROLLING_BACK, ESCALATED),
    ROLLING_BACK: (ROLLED_BACK, FAILED),
}

STEP_RUNNING, STEP_OK, STEP_FAILED, STEP_INTERRUPTED = "running", "succeeded", "failed", "interrupted"


class BadMove(RuntimeError):
    """A transition the state machine does not have."""


@dataclass
class StepRecord:
    action_id: int
    phase: str  # steps | rollback
    index: int
    kind: str  # the step's action: restart, scale, ...
    state: str
    started_at: float
    finished_at: float | None = None
    detail: str = ""
    result: dict[str, Any] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ActionRecord:
    id: int
    key: str  # idempotency key: runbook, service, incident, attempt; unique in the store
    runbook: str
    service: str
    incident: int | None
    state: str
    mode: str  # active | shadow
    created_at: float
    updated_at: float
    reason: dict[str, Any] = field(default_factory=dict)  # the incident, alerts and rule that chose it
    expires_at: float | None = None  # a pending approval lapses
    decided_by: str | None = None  # who approved or denied (vigil when no approval is needed)
    verify_started_at: float | None = None
    verify_deadline: float | None = None
    finished_at: float | None = None
    outcome: str = ""
    story: list[str] = field(default_factory=list)  # what was tried and what was seen, in order
    steps: list[StepRecord] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def move(self, to: str, now: float, note: str | None = None) -> None:
        if to not in MOVES.get(self.state, ()):
            raise BadMove(f"action {self.id}: {self.state} -> {to} is not a move of the state machine")
        self.state, self.updated_at = to, now
        if to in FINISHED:
            self.finished_at = now
        if note:
            self.story.append(note)

    def step(self, phase: str, index: int) -> StepRecord | None:
        return next((s for s in self.steps if s.phase == phase and s.index == index), None)

    def view(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "steps"}
        out["steps"] = [s.view() for s in self.steps]
        return out


class ActionStore(Protocol):
    """The store's face for actions (`store/actions.py`; `vigil.testing.MemoryActionStore`)."""

    def save_action(self, action: ActionRecord) -> None:
        """Insert or update the action row (not its steps)."""

    def save_step(self, step: StepRecord) -> None:
        """Insert or update one step record."""

    def actions(self, state: str | None = None, service: str | None = None, since: float | None = None,
                limit: int = 100, *, incident: int | None = None) -> list[ActionRecord]:
        """Newest first, with their steps; `state` may be `unfinished`; `incident`: only its actions."""

    def action(self, action_id: int) -> ActionRecord | None: ...

    def last_action_id(self) -> int: ...
