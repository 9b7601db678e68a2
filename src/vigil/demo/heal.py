"""The demo's self-healing: the runbooks its config ships, and how vigil restarts the services the
fleet runs itself (catalog, payments: `FleetRestarter`, an actuator that can only restart; storefront's
replicas are the `process` actuator's, which restarts them gracefully and replaces one that exits).

- a crashed service (its probe fails, its scrape finds nothing) and a hung one (probe failing, process
  alive) are restarted, after `for: 15s` so that a dependency outage gathers into one incident about
  the root service first: only the root is restarted, never what is merely downstream of it;
- a leaking one is restarted before it runs out of memory: the `memory-high` rule fires at
  MEMORY_HIGH_MB, below the leak's cap;
- a load surge is storefront's scaling policy's to answer (scaling.md), not a runbook's.

An error spike after a version change (rollback_version) needs versions the demo does not deploy:
the runbook shape is tested on the fake clock (tests/heal/test_demo_scenarios.py); in the live demo it
is planned."""

from __future__ import annotations

import asyncio
from typing import Any

MB = 1024 * 1024
MEMORY_HIGH_MB = 96  # the demo's leaks are capped at 128 MB: act well before

MEMORY_RULE: dict[str, Any] = {"kind": "threshold", "name": "memory-high", "series": "process_resident_memory_bytes",
                               "above": MEMORY_HIGH_MB * MB, "for": "0s", "severity": "warning"}


def demo_runbooks() -> list[dict[str, Any]]:
    return [
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
