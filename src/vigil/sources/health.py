"""Health of probes and services, with thresholds so one blip is not an outage.

Per (service, probe):
- unknown -> healthy on the first success (nothing to confirm: there was no outage);
- unknown or healthy -> unhealthy after `failure_threshold` consecutive failures (default 3);
- unhealthy -> healthy after `success_threshold` consecutive successes (default 2).
A service's health is the worst of its probes (unhealthy > unknown > healthy); a service without
probe results is unknown."""

from __future__ import annotations

from dataclasses import dataclass, field

from vigil.config.schema import VigilConfig
from vigil.model import Health, ProbeResult

_RANK = {Health.HEALTHY: 0, Health.UNKNOWN: 1, Health.UNHEALTHY: 2}


@dataclass(frozen=True, slots=True)
class Thresholds:
    failure: int = 3
    success: int = 2


@dataclass(slots=True)
class ProbeHealth:
    state: Health = Health.UNKNOWN
    failures: int = 0  # consecutive
    successes: int = 0  # consecutive
    since: float | None = None
    last: ProbeResult | None = None


@dataclass(frozen=True, slots=True)
class HealthChange:
    """A probe changed state; `service_before/after` say whether the service's health moved too."""

    ts: float
    service: str
    probe: str
    before: Health
    after: Health
    reason: str
    service_before: Health
    service_after: Health
    evidence: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.service}/{self.probe} {self.after.value}: {self.reason}"


class HealthTracker:
    def __init__(self, thresholds: dict[tuple[str, str], Thresholds] | None = None,
                 default: Thresholds = Thresholds()) -> None:
        self._thresholds = dict(thresholds or {})
        self._default = default
        self._probes: dict[tuple[str, str], ProbeHealth] = {}
        self._services: dict[str, list[str]] = {}
        for service, probe in self._thresholds:
            self._services.setdefault(service, []).append(probe)

    @classmethod
    def from_config(cls, config: VigilConfig) -> "HealthTracker":
        thresholds = {
            (s.name, name): Thresholds(p.failure_threshold, p.success_threshold)
            for s in config.services for p, name in zip(s.probes, s.probe_names())
        }
        tracker = cls(thresholds)
        for s in config.services:
            tracker._services.setdefault(s.name, [])
        return tracker

    def observe(self, result: ProbeResult) -> HealthChange | None:
        """Count one probe result; return the state change it caused, if any."""
        key = (result.service, result.probe)
        if key not in self._probes:
            self._probes[key] = ProbeHealth()
            probes = self._services.setdefault(result.service, [])
            if result.probe not in probes:
                probes.append(result.probe)
        ph = self._probes[key]
        limits = self._thresholds.get(key, self._default)
        service_before = self.service_health(result.service)
        ph.last = result
        if result.ok:
            ph.successes, ph.failures = ph.successes + 1, 0
        else:
            ph.failures, ph.successes = ph.failures + 1, 0
        before, reason = ph.state, ""
        if result.ok and ph.state is Health.UNKNOWN:
            ph.state, reason = Health.HEALTHY, f"first success: {result.detail}"
        elif result.ok and ph.state is Health.UNHEALTHY and ph.successes >= limits.success:
            ph.state, reason = Health.HEALTHY, f"{ph.successes} consecutive successes: {result.detail}"
        elif not result.ok and ph.state is not Health.UNHEALTHY and ph.failures >= limits.failure:
            ph.state = Health.UNHEALTHY
            reason = f"{ph.failures} consecutive failure{'s' if ph.failures != 1 else ''}: {result.detail}"
        if ph.state is before:
            return None
        ph.since = result.ts
        return HealthChange(result.ts, result.service, result.probe, before, ph.state, reason,
                            service_before, self.service_health(result.service),
                            {"detail": result.detail, "latency_s": result.latency_s, **result.values})

    def probe_health(self, service: str, probe: str) -> ProbeHealth:
        return self._probes.get((service, probe), ProbeHealth())

    def service_health(self, service: str) -> Health:
        probes = self._services.get(service, [])
        if not probes:
            return Health.UNKNOWN
        states = [self.probe_health(service, p).state for p in probes]
        return max(states, key=_RANK.__getitem__)

    def services(self) -> dict[str, Health]:
        return {s: self.service_health(s) for s in self._services}
