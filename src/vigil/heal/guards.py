"""The guard rails: one policy shape (config/runbooks.py `Guards`) checked the same way before every
action starts. The checks read the persisted actions (loaded at start), so a restart of vigil resets
no counter. Why a restart loop cannot happen: docs/healing.md#no-restart-loop."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from vigil.config.runbooks import ResolvedGuards
from vigil.heal.ledger import DENIED, EXPIRED, ActionRecord


class AuditSink(Protocol):
    """Where every decision and action is recorded (the audit log, vigil.audit; `vigil.testing.MemoryAudit`)."""

    def append(self, actor: str, action: str, reason: str, inputs: dict[str, Any], result: dict[str, Any],
               duration_s: float, incident: int | None = None, service: str | None = None) -> Any: ...


class KillSwitch(Protocol):
    """The global kill switch (`vigil pause` / `vigil resume`; `vigil.testing.FakeKillSwitch`)."""

    def is_paused(self) -> bool: ...


@dataclass(frozen=True)
class Verdict:
    ok: bool
    rule: str  # the guard that decided: paused | maintenance | busy | cooldown | max_attempts | confidence | allowed
    why: str


def _counts(a: ActionRecord) -> bool:
    """Actions that never ran (denied, lapsed) do not use up attempts or start a cooldown."""
    return a.state not in (DENIED, EXPIRED)


def check(guards: ResolvedGuards, runbook: str, service: str, now: float, confidence: float,
          history: Iterable[ActionRecord], *, paused: bool, maintenance_until: float | None,
          maintenance_window: str | None = None) -> Verdict:
    """May `runbook` start an action on `service` now? The first guard that says no decides.
    `maintenance_until`: the end of a window a runbook opened; `maintenance_window`: the name of an open
    `alerting.maintenance_windows` window naming the service."""
    if paused:
        return Verdict(False, "paused", "automation is paused (vigil pause); nothing acts until vigil resume")
    if maintenance_until is not None and maintenance_until > now:
        return Verdict(False, "maintenance", f"{service} is in a maintenance window for {maintenance_until - now:.0f}s")
    if maintenance_window is not None:
        return Verdict(False, "maintenance", f"{service} is in the maintenance window {maintenance_window!r} "
                                             "(alerting.maintenance_windows)")
    mine = [a for a in history if a.service == service]
    busy = [a for a in mine if not a.finished]
    if busy:
        return Verdict(False, "busy", f"action {busy[0].id} ({busy[0].runbook}) is under way on {service}: one at a "
                                      "time per service")
    ran = [a for a in mine if _counts(a)]
    last = max((a.finished_at or a.updated_at for a in ran), default=None)
    if last is not None and now - last < guards.cooldown:
        return Verdict(False, "cooldown", f"the last action on {service} ended {now - last:.0f}s ago; cooldown "
                                          f"{guards.cooldown:g}s")
    recent = [a for a in ran if a.runbook == runbook and a.created_at > now - guards.window]
    if len(recent) >= guards.max_attempts:
        return Verdict(False, "max_attempts", f"{len(recent)} actions of {runbook} on {service} within "
                                              f"{guards.window:g}s (at most {guards.max_attempts})")
    if confidence < guards.min_confidence:
        return Verdict(False, "confidence", f"root-cause confidence {confidence:.2f} is below "
                                            f"{guards.min_confidence:.2f}")
    return Verdict(True, "allowed", "every guard rail allows it")


def confidence_of(root_causes: Sequence[dict[str, Any]]) -> float:
    """How sure the incident is of its top root cause: its share of the ranking's positive scores
    (1 when there is no ranking, or a single suspect: one service is involved)."""
    scores = [max(0.0, float(s.get("score", 0.0))) for s in root_causes]
    total = sum(scores)
    if len(scores) <= 1 or total <= 0:
        return 1.0
    return scores[0] / total
