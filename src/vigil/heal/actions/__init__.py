"""The built-in remediation actions: one typed async function per `action:` kind, each taking its
pydantic parameters (params.py, validated at start-up) and the context of the action. A function
returns a StepOutcome; it never retries (a failed step fails the action, which is then rolled back
and escalated: retrying is the guard rails' business, not the step's)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from vigil.breaker import Breakers
from vigil.clock import Clock
from vigil.heal.windows import MaintenanceBook
from vigil.model import Health


@dataclass
class StepOutcome:
    ok: bool
    detail: str
    result: dict[str, Any] = field(default_factory=dict)


class Restartable(Protocol):
    """What an actuator offers to be restarted (the process and memory actuators do)."""

    async def restart(self, replicas: int | None = None, at_once: int = 1) -> int: ...


class Versioned(Protocol):
    async def rollback_version(self) -> int: ...


class Teller(Protocol):
    """Where a `notify` step's message goes: the receivers, through the durable outbox
    (heal/tell.py `OutboxTeller`; None: the incident's timeline only)."""

    async def tell(self, ctx: ActionContext, message: str, receiver: str | None) -> dict[str, Any]:
        """Enqueue the message (keyed by the action and step) and say to whom: {"receivers", "added", ...}."""
        ...


@dataclass
class ActionContext:
    """What a step may use: the service acted on (the incident's top root cause), its actuator (when
    it has one), what the stage sees of its health and metrics, and where notes go."""

    service: str
    clock: Clock
    actuator: Any  # vigil.act.actuators.base.Actuator, or None
    health: Callable[[str], Health]
    latest: Callable[[str], float | None]  # newest value of a series (its text), None if unseen
    blast_radius: float  # percent of replicas at once
    maintenance: MaintenanceBook  # the windows in which no runbook acts (heal/windows.py)
    notes: list[tuple[int | None, float, str]] = field(default_factory=list)  # (incident, ts, text): timeline
    action_id: int = 0
    runbook: str = ""
    incident: int | None = None
    step: str = ""  # the step running: "steps[2]", "rollback[0]" (with action_id, a step's idempotency key)
    tell: Teller | None = None
    breakers: Breakers | None = None  # calls out (actuators, HTTP endpoints) go through these when given


T = TypeVar("T")


async def through(ctx: ActionContext, endpoint: str, fn: Callable[[], Awaitable[T]],
                  counts_as_up: Callable[[BaseException], bool] = lambda exc: False) -> T:
    """`fn()` through the endpoint's circuit breaker (the engine's registry, as scaling's calls go);
    raises BreakerOpen without calling while it is open."""
    if ctx.breakers is None:
        return await fn()
    return await ctx.breakers.call(endpoint, ctx.clock.now, fn, counts_as_up)


StepFn = Callable[[Any, ActionContext], Awaitable[StepOutcome]]


def step_functions() -> dict[str, StepFn]:
    """`action` kind -> its function. Explicit, so a kind without one fails at import, not at run time."""
    from vigil.heal.actions import calls, flow, service

    return {"restart": service.restart, "scale": service.scale, "rollback_version": service.rollback_version,
            "http": calls.http, "webhook": calls.webhook, "command": calls.command, "wait": flow.wait,
            "check": flow.check, "notify": flow.notify, "maintenance": flow.maintenance}


def series_for(text: str, service: str) -> str:
    """A series' text with the service label added when missing."""
    from vigil.model import SeriesKey

    key = SeriesKey.parse(text)
    if "service" not in key.label_map:
        key = SeriesKey.of(key.name, {**key.label_map, "service": service})
    return str(key)


async def run_step(params: Any, ctx: ActionContext) -> StepOutcome:
    fn = step_functions()[params.action]
    try:
        return await fn(params, ctx)
    except Exception as exc:  # a step that raises fails; its message (never a secret: none is formatted in) kept
        return StepOutcome(False, f"{params.action} raised {type(exc).__name__}: {exc}"[:500])
