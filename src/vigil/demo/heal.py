"""The demo's self-healing: the runbooks its config ships, and how vigil restarts the services the
fleet runs itself (catalog, payments: `FleetRestarter`, an actuator that can only restart; storefront's
replicas are the `process` actuator's, which restarts them gracefully and replaces one that exits).

- a crashed service (its probe fails, its scrape finds nothing) and a hung one (probe failing, process
  alive) are restarted, after `for: 15s` so that a dependency outage gathers into one incident about
  the root service first: only the root is restarted, never what is merely downstream of it;
- a leaking one is restarted before it runs out of memory: the `memory-high` rule fires at
  MEMORY_HIGH_MB, below the leak's cap;
- a slow one (the median time to answer `/health` above LATENCY_SLO_S for 3 s: `latency-high`) has its
  connections reset through its own `POST /admin/reset-connections`, no restart; verified by that
  median back under the SLO;
- an error spike on storefront (`server-errors`) is answered by rolling back its last deploy
  (`rollback_version`: the `process` actuator's previous command; demo/deploys.py deploys them);
  verified by its business errors back under 0.1/s;
- a load surge is storefront's scaling policy's to answer (scaling.md), not a runbook's.
"""

from __future__ import annotations

import asyncio
from typing import Any

MB = 1024 * 1024
MEMORY_HIGH_MB = 96  # the demo's leaks are capped at 128 MB: act well before

MEMORY_RULE: dict[str, Any] = {"kind": "threshold", "name": "memory-high", "series": "process_resident_memory_bytes",
                               "above": MEMORY_HIGH_MB * MB, "for": "0s", "severity": "warning"}

# A healthy demo service answers /health in a few ms; 0.25 s is also a bucket bound of the histogram,
# so a healthy median never reads above it by interpolation.
LATENCY_SLO_S = 0.25
HEALTH_MEDIAN = 'http_request_duration_seconds{route="/health",quantile="0.5"}'
LATENCY_RULE: dict[str, Any] = {"kind": "threshold", "name": "latency-high", "series": HEALTH_MEDIAN,
                                "above": LATENCY_SLO_S, "for": "3s", "severity": "warning"}
ERRORS_OK_PER_S = 0.1  # as the server-errors rule: one error in a 10 s scrape
DEPLOYED = ("storefront",)  # run by vigil's process actuator, so vigil deploys and rolls back its versions


def demo_runbooks(urls: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The runbooks; with `urls` (service -> base URL) also each service's connection reset."""
    resets = [{"name": f"reset-slow-{name}", "mode": "active",
               "description": f"{name} answers slowly: reset its connection pools (no restart)",
               "trigger": {"service": [name], "alertname": ["latency-high"], "for": "10s"},
               "steps": [{"action": "http", "method": "POST", "url": f"{url}/admin/reset-connections",
                          "timeout": "5s"}],
               "verify": {"probes_healthy": True, "metric": {"series": HEALTH_MEDIAN, "max": LATENCY_SLO_S},
                          "for": "10s", "within": "60s"}}
              for name, url in (urls or {}).items()]
    return [*resets,
        {"name": "restart-down", "mode": "active",
         "description": "a crashed or hung service: its probe fails (or nothing answers its scrape)",
         "trigger": {"alertname": ["ProbeFailing", "target-down"], "for": "15s"},
         "steps": [{"action": "restart"}],
         "verify": {"probes_healthy": True, "for": "10s", "within": "90s"}},
        {"name": "restart-leak", "mode": "active",
         "description": "memory grows towards its limit: restart gracefully before it runs out",
         "trigger": {"alertname": ["memory-high"]},
         "steps": [{"action": "restart"}],
         "verify": {"probes_healthy": True, "for": "10s", "within": "90s"}},
        {"name": "rollback-bad-deploy", "mode": "active",
         "description": "business errors right after a version change: back to the previous version",
         "trigger": {"service": list(DEPLOYED), "alertname": ["server-errors"], "for": "3s"},
         "steps": [{"action": "rollback_version", "timeout": "60s"}],
         "verify": {"probes_healthy": True, "metric": {"series": "shop_errors_total:rate", "max": ERRORS_OK_PER_S},
                    "for": "10s", "within": "90s"}},
    ]


class FleetRestarter:
    """Restarts a service the demo fleet runs (a new process on the same port), in a thread: the
    fleet's restart waits for the service to be healthy."""

    kind = "fleet"

    def __init__(self, fleet: Any, name: str) -> None:
        self.fleet, self.name = fleet, name
        self.restarts = 0

    async def restart(self, replicas: int | None = None, at_once: int = 1) -> int:
        await asyncio.to_thread(self.fleet.restart, self.name)
        self.restarts += 1
        return 1

    async def requested_replicas(self) -> int:
        return 1

    async def ready_replicas(self) -> int:
        return 1 if self.fleet.services[self.name].running else 0


def restarters(fleet: Any) -> dict[str, FleetRestarter]:
    """One per service the fleet runs itself (not storefront's replicas: those are vigil's)."""
    return {name: FleetRestarter(fleet, name) for name, m in fleet.services.items() if m.process is not None}
