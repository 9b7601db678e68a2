"""Incidents: one per real problem. An incident gathers the alerts that belong to it (across services,
through the dependency graph), names its probable root cause, and has a lifecycle a person works
with: open -> acknowledged -> resolved (and reopened when it comes back soon after)."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vigil.model import SEVERITY_RANK, Alert, Severity, severity_of

_BY_RANK = {r: s for s, r in SEVERITY_RANK.items()}


def weighted(severity: str, impact: float) -> Severity:
    """An alert's severity weighed by its service's impact (`services[].impact`, 1 = as it is): the
    rank moves by log2 of the weight, so 2 lifts a warning to high and 0.5 lowers a critical to high."""
    rank = SEVERITY_RANK[severity_of(severity)]
    if impact != 1.0:
        rank = min(3, max(0, round(rank + math.log2(max(impact, 1e-9)))))
    return _BY_RANK[rank]


class IncidentStatus(str, enum.Enum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(slots=True)
class Member:
    """One alert of an incident: when it joined, why, and whether it still fires."""

    incident: int
    fingerprint: str
    alertname: str
    service: str
    severity: str
    joined_at: float
    why: str
    firing: bool = True
    changed_at: float = 0.0
    summary: str = ""


@dataclass(slots=True)
class TimelineEntry:
    """A line of an incident's story: alerts joining and resolving, root cause found, acknowledged by
    whom, notes, notifications, actions."""

    incident: int
    ts: float
    kind: str  # opened | alert_joined | alert_resolved | root_cause | acknowledged | assigned | note | resolved
    #            | reopened | escalated | notified | action
    message: str
    actor: str = "vigil"  # a person (an API key's name) or vigil
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Incident:
    id: int
    title: str
    status: IncidentStatus
    severity: Severity
    service: str  # the service it is about: the top root cause once ranked, else the most upstream one
    opened_at: float
    updated_at: float
    services: list[str] = field(default_factory=list)  # every service with an alert in it
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None  # a person, or None when its alerts resolved
    assignee: str | None = None
    reopened: int = 0
    root_causes: list[dict[str, Any]] = field(default_factory=list)  # ranked suspects: service, score, why
    summary: str = ""
    escalation: dict[str, Any] = field(default_factory=dict)  # policy, level reached, next due
    members: dict[str, Member] = field(default_factory=dict)  # fingerprint -> member (in memory)

    @property
    def open(self) -> bool:
        return self.status is not IncidentStatus.RESOLVED

    @property
    def firing(self) -> list[Member]:
        return [m for m in self.members.values() if m.firing]

    def worst(self, impact: Mapping[str, float] | None = None) -> Severity:
        """The highest severity of its alerts, each weighed by its service's impact."""
        weights = impact or {}
        ranks = [SEVERITY_RANK[weighted(m.severity, weights.get(m.service, 1.0))] for m in self.members.values()]
        return _BY_RANK[max(ranks, default=SEVERITY_RANK[Severity.WARNING])]

    def add(self, alert: Alert, now: float, why: str, impact: Mapping[str, float] | None = None) -> Member:
        member = Member(self.id, alert.fingerprint, alert.name, alert.service, alert.severity.value, now, why,
                        True, now, alert.summary)
        self.members[alert.fingerprint] = member
        if alert.service and alert.service not in self.services:
            self.services.append(alert.service)
        self.severity = self.worst(impact)
        self.updated_at = now
        return member
