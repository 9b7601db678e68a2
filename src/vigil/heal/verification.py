"""What an action's verification said, in one word and a line, read off its persisted record: the
dashboard, the API and the demo's terminal show the same verdict (docs/healing.md#the-state-machine).

    not_started  approval, or the steps, still to come
    verifying    the steps are done; the steady state is being watched until the deadline
    passed       the steady state held for `verify.for` (the note says what was seen)
    failed       the deadline passed without it (the note says what was seen last)
    not_reached  a step failed, or automation was paused, before verification began
    not_run      denied or lapsed: nothing ran"""

from __future__ import annotations

from typing import Any

from vigil.heal.ledger import (
    APPROVED,
    DENIED,
    EXPIRED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    VERIFYING,
    ActionRecord,
)

# The notes the remediate stage writes when verification ends (stages/remediate.py, _verify).
PASSED_NOTE, FAILED_NOTE = "verified:", "not verified within"


def verification(a: ActionRecord) -> dict[str, Any]:
    """{"state", "detail", "started_at", "deadline"} for one action."""
    out: dict[str, Any] = {"started_at": a.verify_started_at, "deadline": a.verify_deadline}
    note = next((s for s in reversed(a.story) if s.startswith((PASSED_NOTE, FAILED_NOTE))), None)
    if a.state in (DENIED, EXPIRED):
        state, detail = "not_run", a.outcome or a.state
    elif a.state in (PENDING, APPROVED, RUNNING):
        state, detail = "not_started", "awaiting approval" if a.state == PENDING else "steps under way"
    elif a.state == VERIFYING:
        state, detail = "verifying", "watching the steady state"
    elif a.state == SUCCEEDED and note is not None and note.startswith(PASSED_NOTE):
        state, detail = "passed", note
    elif note is not None and note.startswith(FAILED_NOTE):
        state, detail = "failed", note.split("; rolling back")[0]
    else:  # rolled back, failed or escalated before the steps were done
        state, detail = "not_reached", a.outcome or "verification did not begin"
    return {"state": state, "detail": detail, **out}


def action_view(a: ActionRecord) -> dict[str, Any]:
    """The action as the API answers it: its record and its verification verdict."""
    return {**a.view(), "verification": verification(a)}
