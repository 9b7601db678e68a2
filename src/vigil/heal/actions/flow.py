"""Actions about the run itself: wait, check the service's state, tell people, maintenance windows."""

from __future__ import annotations

from vigil.heal.actions import ActionContext, StepOutcome, series_for
from vigil.heal.actions.params import CheckParams, MaintenanceParams, MetricBound, NotifyParams, WaitParams
from vigil.model import Health


async def wait(p: WaitParams, ctx: ActionContext) -> StepOutcome:
    await ctx.clock.sleep(p.duration)
    return StepOutcome(True, f"waited {p.duration:g}s")


def metric_ok(bound: MetricBound, ctx: ActionContext) -> tuple[bool, str]:
    series = series_for(bound.series, ctx.service)
    value = ctx.latest(series)
    if value is None:
        return False, f"{series}: no sample seen"
    low = bound.min if bound.min is not None else float("-inf")
    high = bound.max if bound.max is not None else float("inf")
    return low <= value <= high, f"{series} = {value:g} (bounds {low:g}..{high:g})"


def steady(probes_healthy: bool, bound: MetricBound | None, ctx: ActionContext) -> tuple[bool, str]:
    """The steady state of a check or a verification, and what was seen."""
    ok, seen = True, []
    if probes_healthy:
        health = ctx.health(ctx.service)
        ok = health is Health.HEALTHY
        seen.append(f"probes {health.value}")
    if bound is not None:
        good, text = metric_ok(bound, ctx)
        ok = ok and good
        seen.append(text)
    return ok, "; ".join(seen)


async def check(p: CheckParams, ctx: ActionContext) -> StepOutcome:
    ok, seen = steady(p.probes_healthy, p.metric, ctx)
    return StepOutcome(ok, f"check {'held' if ok else 'failed'}: {seen}")


async def notify(p: NotifyParams, ctx: ActionContext) -> StepOutcome:
    """The message to the receivers (the step's, or those the route tree gives the incident's alerts),
    through the durable outbox, keyed by the action and step; and a line on the incident's timeline."""
    text = p.message.replace("{service}", ctx.service)
    ctx.notes.append((ctx.incident, ctx.clock.now(), text))
    if ctx.tell is None:
        return StepOutcome(True, f"noted on the incident (no outbox: alerting.route is not set): {text[:200]}")
    sent = await ctx.tell.tell(ctx, text, p.receiver)
    if not sent["receivers"]:
        return StepOutcome(True, f"no receiver routes {ctx.service}'s alerts; noted on the incident: {text[:200]}",
                           sent)
    return StepOutcome(True, f"to {', '.join(sent['receivers'])} through the outbox: {text[:200]}", sent)


async def maintenance(p: MaintenanceParams, ctx: ActionContext) -> StepOutcome:
    """Written to the store before the step reports it: a restart of vigil keeps the window."""
    if p.state == "open":
        w = await ctx.maintenance.open(ctx.service, ctx.clock.now(), p.duration,
                                       f"action:{ctx.action_id} ({ctx.runbook})", f"{ctx.step} of {ctx.runbook}")
        return StepOutcome(True, f"maintenance window open on {ctx.service} for {p.duration:g}s",
                           {"ends_at": w.ends_at})
    had = await ctx.maintenance.close(ctx.service)
    return StepOutcome(True, f"maintenance window on {ctx.service} closed" if had
                       else f"no maintenance window was open on {ctx.service}")
