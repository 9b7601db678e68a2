"""Config schema of self-healing: `runbooks:` (a trigger, ordered steps, a steady-state `verify`
block, `rollback` steps, a mode and guard-rail overrides) and `remediation:` (the guard rails every
action shares). Every step's parameters are validated here, at start-up (docs/healing.md)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from vigil.config.loader import ConfigProblem, Document, format_path
from vigil.config.types import Duration, Strict
from vigil.heal.actions.params import MetricBound, StepParams
from vigil.model import Severity

_NAME = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,62})$")


class Guards(Strict):
    """One policy shape for every action. In a runbook each key overrides the `remediation.guards` one."""

    cooldown: Duration | None = Field(None, description="after an action on a service, none other starts there "
                                                        "for this long (default 5m)")
    max_attempts: int | None = Field(None, ge=1, le=100, description="actions per service and runbook within "
                                                                    "`window` (default 3)")
    window: Duration | None = Field(None, description="the window of max_attempts (default 1h)")
    blast_radius: float | None = Field(None, gt=0, le=100, description="at most this percent of a service's "
                                                                      "replicas restarted at once (default 50)")
    min_confidence: float | None = Field(None, ge=0, le=1, description="the root cause's share of its incident's "
                                                                      "ranking needed to act (default 0.5)")
    approval: bool | None = Field(None, description="a person approves each action first (default false)")


class ResolvedGuards(Strict):
    cooldown: float = 300.0
    max_attempts: int = 3
    window: float = 3600.0
    blast_radius: float = 50.0
    min_confidence: float = 0.5
    approval: bool = False


class RemediationConfig(Strict):
    enabled: bool = True
    guards: Guards = Guards()
    approval_expiry: Duration = Field(1800.0, description="a pending approval lapses after this long")

    def resolve(self, override: Guards | None) -> ResolvedGuards:
        base = ResolvedGuards()
        merged = {k: v for k, v in self.guards.model_dump().items() if v is not None}
        if override is not None:
            merged.update({k: v for k, v in override.model_dump().items() if v is not None})
        return base.model_copy(update=merged)


class Trigger(Strict):
    """What starts a runbook: an open incident (or, `on: alert`, any firing alert) whose top-ranked root
    cause matches. Every key given must match; lists match any of their entries."""

    on: str = Field("incident", pattern="^(incident|alert)$")
    service: list[str] = Field(default_factory=list, description="the root cause's name (any if empty)")
    alertname: list[str] = Field(default_factory=list, description="an alert of the root cause firing with one "
                                                                   "of these names (the kind of trouble)")
    severity: Severity = Field(Severity.WARNING, description="that alert's severity at least")
    labels: dict[str, str] = Field(default_factory=dict, description="labels that alert (or the service) has")
    detector: list[str] = Field(default_factory=list, description="that alert's source (detector:<kind>, "
                                                                  "rule:<name>, health, ...), by prefix")
    for_: Duration = Field(0.0, alias="for", description="the match holds this long before acting")


class Verify(Strict):
    """The steady state that says the fix worked: probes healthy and/or a metric within bounds,
    continuously for `for`, reached before `within` has passed since the steps ended."""

    probes_healthy: bool = True
    metric: MetricBound | None = None
    for_: Duration = Field(30.0, alias="for")
    within: Duration = Field(180.0, description="the deadline; past it the action is rolled back and escalated")

    @model_validator(mode="after")
    def _deadline(self) -> Verify:
        if self.within < self.for_:
            raise ValueError(f"verify.within ({self.within:g}s) is shorter than verify.for ({self.for_:g}s)")
        if not self.probes_healthy and self.metric is None:
            raise ValueError("verify needs probes_healthy: true, a metric, or both")
        return self


class Runbook(Strict):
    name: str
    description: str = ""
    mode: str = Field("shadow", pattern="^(shadow|active)$",
                      description="shadow (the default): record what it would do; active: do it")
    trigger: Trigger = Trigger()
    steps: list[StepParams] = Field(min_length=1, max_length=50)
    verify: Verify = Verify()
    rollback: list[StepParams] = Field(default_factory=list, max_length=50)
    guards: Guards | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"runbook name {v!r} must be lowercase letters, digits, '-' or '_' (max 63)")
        return v


def runbook_problems(runbooks: list[Runbook], services: list[str], doc: Document,
                     receivers: list[str] | None = None, routed: bool = True) -> list[ConfigProblem]:
    """Checks across runbooks: names unique, the services and receivers they name configured (a notify
    step's receiver is told through the outbox, which runs with `alerting.route`)."""
    problems: list[ConfigProblem] = []
    for i, rb in enumerate(runbooks):
        for phase in ("steps", "rollback"):
            for j, step in enumerate(getattr(rb, phase)):
                name = getattr(step, "receiver", None) if step.action == "notify" else None
                if name is None or receivers is None:
                    continue
                path: tuple[str | int, ...] = ("runbooks", i, phase, j, "receiver")
                if not routed:
                    why = f"receiver {name!r}: notify steps go through the outbox, which needs alerting.route"
                elif name not in receivers:
                    why = f"unknown receiver {name!r}; known: {', '.join(receivers) or 'none'}"
                else:
                    continue
                problems.append(ConfigProblem(doc.file, doc.lines.get(path), format_path(path), why))
    seen: dict[str, int] = {}
    for i, rb in enumerate(runbooks):
        if rb.name in seen:
            path = ("runbooks", i, "name")
            problems.append(ConfigProblem(doc.file, doc.lines.get(path), format_path(path),
                                          f"duplicate runbook name {rb.name!r} (also runbooks[{seen[rb.name]}])"))
        seen.setdefault(rb.name, i)
        for j, name in enumerate(rb.trigger.service):
            if name not in services:
                path = ("runbooks", i, "trigger", "service", j)
                problems.append(ConfigProblem(doc.file, doc.lines.get(path), format_path(path),
                                              f"unknown service {name!r}; known: {', '.join(services) or 'none'}"))
    return problems
