"""Running an action's steps beside the pass, write-ahead: each step is recorded `running` before it
starts and with its outcome after, so a step that ran is never started again (after a crash it is
found `running` and marked `interrupted`) and no step is forgotten."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from vigil.heal.actions import ActionContext, run_step
from vigil.heal.ledger import STEP_FAILED, STEP_INTERRUPTED, STEP_OK, STEP_RUNNING, ActionRecord, StepRecord

# What a run of steps ends with.
DONE, STEP_FAILED_OUT, PAUSED = "done", "failed", "paused"

Save = Callable[[StepRecord], Awaitable[None]]


def mark_interrupted(action: ActionRecord, now: float) -> list[StepRecord]:
    """Steps found `running` after a restart: they ran, or were running; their outcome is unknown. They
    are never started again (the verification decides whether the action helped)."""
    hit = [s for s in action.steps if s.state == STEP_RUNNING]
    for s in hit:
        s.state, s.finished_at = STEP_INTERRUPTED, now
        s.detail = "vigil stopped while this step ran; not run again (verification decides)"
    return hit


async def run_steps(action: ActionRecord, phase: str, steps: Sequence[Any], ctx: ActionContext, save: Save,
                    paused: Callable[[], bool]) -> str:
    """The steps of `phase` not run yet, in order; DONE, STEP_FAILED_OUT at the first failure, or PAUSED
    when the kill switch is on before a step (nothing more starts)."""
    for i, params in enumerate(steps):
        seen = action.step(phase, i)
        if seen is not None:
            if seen.state == STEP_FAILED:
                return STEP_FAILED_OUT
            continue  # ran before (succeeded or interrupted): never again
        if paused():
            action.story.append(f"{phase}[{i}] {params.action}: not started, automation paused")
            return PAUSED
        rec = StepRecord(action.id, phase, i, params.action, STEP_RUNNING, ctx.clock.now())
        action.steps.append(rec)
        await save(rec)
        started = time.monotonic()
        ctx.step = f"{phase}[{i}]"
        out = await run_step(params, ctx)
        rec.state = STEP_OK if out.ok else STEP_FAILED
        rec.finished_at, rec.detail = ctx.clock.now(), out.detail
        rec.result = {**out.result, "seconds": round(time.monotonic() - started, 3)}
        action.story.append(f"{phase}[{i}] {params.action}: {out.detail}")
        await save(rec)
        if not out.ok:
            return STEP_FAILED_OUT
    return DONE
