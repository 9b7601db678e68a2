"""Actions on the service itself, through its actuator: restart, scale, roll back a version."""

from __future__ import annotations

import asyncio
import math

from vigil.act.actuators.base import ActuationError, execute_scale
from vigil.breaker import BreakerOpen
from vigil.heal.actions import ActionContext, StepOutcome, through
from vigil.heal.actions.calls import run_argv
from vigil.heal.actions.params import RestartParams, RollbackVersionParams, ScaleParams


def _refusal(exc: BaseException) -> bool:
    """The platform answered no (not worth retrying): it is up, as the scaling breaker counts it."""
    return isinstance(exc, ActuationError) and not exc.retryable


async def _replica_count(ctx: ActionContext) -> int:
    requested = await ctx.actuator.requested_replicas()
    return int(requested if requested is not None else await ctx.actuator.ready_replicas())


async def restart(p: RestartParams, ctx: ActionContext) -> StepOutcome:
    """Gracefully, within the blast-radius cap: at most that share of the replicas at once (at least one)."""
    if p.command is not None:
        code, out = await run_argv([a.replace("{service}", ctx.service) for a in p.command], p.timeout)
        return StepOutcome(code == 0, f"restart command exited {code}: {out[-200:]}", {"exit_status": code})
    restart_fn = getattr(ctx.actuator, "restart", None)
    if restart_fn is None:
        kind = getattr(ctx.actuator, "kind", "no actuator")
        return StepOutcome(False, f"{ctx.service}: {kind} cannot restart (give the step a command)")
    total = await _replica_count(ctx)
    at_once = max(1, math.floor(total * ctx.blast_radius / 100))
    try:
        done = await through(ctx, f"actuator:{ctx.service}",
                             lambda: asyncio.wait_for(restart_fn(p.replicas, at_once), p.timeout), _refusal)
    except BreakerOpen as exc:
        return StepOutcome(False, f"restart not tried: {exc}")
    except ActuationError as exc:
        return StepOutcome(False, f"restart failed: {exc}")
    except TimeoutError:
        return StepOutcome(False, f"restart did not finish within {p.timeout:g}s")
    return StepOutcome(True, f"restarted {done} of {total} replicas, at most {at_once} at once",
                       {"restarted": done, "replicas": total, "at_once": at_once})


async def scale(p: ScaleParams, ctx: ActionContext) -> StepOutcome:
    if ctx.actuator is None:
        return StepOutcome(False, f"{ctx.service} has no actuator to scale")
    current = await _replica_count(ctx)
    target = p.to if p.to is not None else max(0, current + (p.by or 0))
    outcome = await execute_scale(ctx.actuator, target, ctx.clock)
    return StepOutcome(outcome.ok, outcome.detail, {"before": current, **outcome.summary()})


async def rollback_version(p: RollbackVersionParams, ctx: ActionContext) -> StepOutcome:
    undo = getattr(ctx.actuator, "rollback_version", None)
    if undo is None:
        kind = getattr(ctx.actuator, "kind", "no actuator")
        return StepOutcome(False, f"{ctx.service}: {kind} cannot roll back a version")
    try:
        done = await through(ctx, f"actuator:{ctx.service}", lambda: asyncio.wait_for(undo(), p.timeout), _refusal)
    except BreakerOpen as exc:
        return StepOutcome(False, f"rollback not tried: {exc}")
    except ActuationError as exc:
        return StepOutcome(False, f"rollback failed: {exc}")
    except TimeoutError:
        return StepOutcome(False, f"rollback did not finish within {p.timeout:g}s")
    return StepOutcome(True, f"rolled back to the previous version; {done} replicas restarted", {"restarted": done})
