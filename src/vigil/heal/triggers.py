"""Which runbooks match now, and on which service: always the incident's top-ranked root cause, never
a service merely downstream of it (an alert on a downstream service matches nothing). The one
exception is a failure of its own: once the root cause has recovered (none of its alerts fire), an
alert of another service in the incident that began after that recovery, on a service none of whose
dependencies has an alert firing now, is no symptom, and its service is fixed (an incident held
open while a flapping alert goes quiet must not hide a new failure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vigil.config.runbooks import Runbook, Trigger
from vigil.heal.guards import confidence_of
from vigil.incidents.model import SEVERITY_RANK, Incident
from vigil.model import Alert


@dataclass(frozen=True)
class Match:
    runbook: Runbook
    service: str
    key: str  # the idempotency key of the action it would start: one per runbook and incident episode
    incident: int | None
    confidence: float
    reason: dict[str, Any] = field(hash=False, compare=False)
    since: float = 0.0  # when the alerts it acts on began firing: a later failure is a new episode


def root_of(inc: Incident) -> str:
    return str(inc.root_causes[0]["service"]) if inc.root_causes else inc.service


Depends = Callable[[str, str], bool]  # does the first service depend on the second (through any others)?


def own_failure(inc: Incident, alert: Alert, root: str, depends: Depends, failing: Iterable[str]) -> bool:
    """Is `alert` (not on `root`) a failure of its own: it began after the incident's root cause
    recovered, and nothing its service depends on is `failing` (has an alert firing) now?"""
    if inc.firing_on(root):
        return False
    ended = [m.changed_at for m in inc.members.values() if m.service == root]
    if not ended or alert.starts_at <= max(ended):
        return False
    return not any(s != alert.service and depends(alert.service, s) for s in failing)


def _alert_matches(t: Trigger, alert: Alert, service_labels: Mapping[str, str]) -> bool:
    if t.alertname and alert.name not in t.alertname:
        return False
    if SEVERITY_RANK.get(alert.severity, 1) < SEVERITY_RANK.get(t.severity, 1):
        return False
    if t.detector and not alert.source.startswith(tuple(t.detector)):
        return False
    labels = {**service_labels, **alert.labels}
    return all(labels.get(k) == v for k, v in t.labels.items())


def matches(runbooks: Iterable[Runbook], incidents: Iterable[Incident], firing: Iterable[Alert],
            incident_of: Mapping[str, Incident], labels: Mapping[str, Mapping[str, str]],
            depends: Depends = lambda caller, callee: False) -> list[Match]:
    """Every (runbook, target) whose trigger matches now (`for:` is the caller's: it needs time);
    `depends` is the dependency graph's."""
    by_service: dict[str, list[Alert]] = {}
    for a in firing:
        by_service.setdefault(a.service, []).append(a)
    out: list[Match] = []
    open_incidents = [i for i in incidents if i.open]
    for rb in runbooks:
        t = rb.trigger
        if t.on == "incident":
            for inc in open_incidents:
                root = root_of(inc)
                targets = [root] if inc.firing_on(root) else [s for s in inc.services if s != root]
                for target in targets:
                    if t.service and target not in t.service:
                        continue
                    hits = [a for a in by_service.get(target, []) if a.fingerprint in inc.members
                            and _alert_matches(t, a, labels.get(target, {}))
                            and (target == root or own_failure(inc, a, root, depends, by_service))]
                    if hits:
                        out.append(Match(rb, target, f"{rb.name}:{target}:incident-{inc.id}.{inc.reopened}", inc.id,
                                         confidence_of(inc.root_causes),
                                         {"incident": inc.id, "alerts": [a.name for a in hits],
                                          "root_causes": [s.get("service") for s in inc.root_causes]},
                                         min(a.starts_at for a in hits)))
            continue
        for service, alerts in by_service.items():
            if t.service and service not in t.service:
                continue
            for a in alerts:
                member_of = incident_of.get(a.fingerprint)
                root = root_of(member_of) if member_of is not None else service
                if member_of is not None and root != service and not own_failure(member_of, a, root, depends,
                                                                                    by_service):
                    continue  # downstream of the incident's root cause: the root is what gets fixed
                if _alert_matches(t, a, labels.get(service, {})):
                    inc_id = member_of.id if member_of is not None else None
                    sure = confidence_of(member_of.root_causes) if member_of is not None else 1.0
                    out.append(Match(rb, service, f"{rb.name}:{service}:alert-{a.fingerprint}@{a.starts_at:.3f}",
                                     inc_id, sure, {"alert": a.name, "fingerprint": a.fingerprint,
                                                    "incident": inc_id}, a.starts_at))
    return out
