"""Maintenance windows for the guard rails: while a service is in one, no runbook starts an action on
it. Two kinds (docs/healing.md#maintenance-windows):

- opened by a runbook's `maintenance` step: written to the store (`maintenance_windows`, migration
  0010) before the step reports it, so a restart of vigil keeps it open until it ends or a step
  closes it; one per service (opening again replaces it);
- `alerting.maintenance_windows` of the configuration that name the service (`services:`): read from
  the configuration at every start and reload, as the route tree reads them to mute alerts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from vigil.pipeline import Offload

log = logging.getLogger("vigil.remediate")


@dataclass(frozen=True, slots=True)
class WindowRecord:
    service: str
    starts_at: float
    ends_at: float
    opened_by: str  # action:<id> (<runbook>)
    reason: str = ""

    def view(self) -> dict[str, Any]:
        return {**asdict(self), "source": "runbook"}


class WindowStore(Protocol):
    """The store's face for maintenance windows (`store/windows.py`; `vigil.testing.MemoryActionStore`)."""

    def open_maintenance(self, window: WindowRecord) -> None:
        """Insert, or replace the service's window."""

    def close_maintenance(self, service: str) -> bool:
        """Remove the service's window; whether there was one."""

    def maintenance_windows(self, open_at: float | None = None) -> list[WindowRecord]:
        """By service; with `open_at`, only those not ended by then."""


class MaintenanceBook:
    """The windows the remediate stage and its steps share: the runbook ones (persisted) and the
    configuration's (`config_windows() -> MaintenanceWindows`, which follows reloads)."""

    def __init__(self, store: WindowStore | None, writer: Offload | None,
                 config_windows: Callable[[], Any] | None = None) -> None:
        self.store, self.writer, self._config = store, writer, config_windows
        self.until: dict[str, WindowRecord] = {}

    async def load(self, now: float) -> None:
        if self.store is not None and self.writer is not None:
            found = await self.writer.call(self.store.maintenance_windows, now)
            self.until = {w.service: w for w in found}

    async def open(self, service: str, now: float, duration: float, opened_by: str, reason: str = "") -> WindowRecord:
        w = WindowRecord(service, now, now + duration, opened_by, reason)
        if self.store is not None and self.writer is not None:
            await self.writer.call(self.store.open_maintenance, w)  # written before anything relies on it
        self.until[service] = w
        return w

    async def close(self, service: str) -> bool:
        had = self.until.pop(service, None) is not None
        if self.store is not None and self.writer is not None:
            had = await self.writer.call(self.store.close_maintenance, service) or had
        return had

    def ends_at(self, service: str) -> float | None:
        w = self.until.get(service)
        return None if w is None else w.ends_at

    def configured(self, service: str, now: float) -> str | None:
        """The name of an open `alerting.maintenance_windows` window naming the service, if any."""
        windows = self._config() if self._config is not None else None
        for w in (windows.open_now(now) if windows is not None else []):
            if service in w.services:
                return str(w.name)
        return None

    async def forget(self, now: float) -> None:
        """Windows that ended: out of memory and of the store. A row the store would not drop is
        harmless (an ended window is never loaded again, and the next one replaces it): logged only."""
        for service in [s for s, w in self.until.items() if w.ends_at <= now]:
            try:
                await self.close(service)
            except Exception:
                log.warning("maintenance window of %s ended; the store did not drop its row", service,
                            exc_info=True)


def window_views(records: list[WindowRecord], windows: Any, now: float) -> list[dict[str, Any]]:
    """For the API: the runbooks' windows open now, then every configured one (open or not)."""
    out = [w.view() for w in records if w.ends_at > now]
    for w in (windows.windows if windows is not None else []):
        out.append({"name": w.name, "services": sorted(w.services), "source": "config",
                    "open": w.open(now, windows.intervals), "starts_at": w.starts_at, "ends_at": w.ends_at,
                    "time_intervals": list(w.time_intervals), "blocks_runbooks": bool(w.services)})
    return out


def configured_windows(config: Any, route_stage: Any) -> Callable[[], Any]:
    """`alerting.maintenance_windows` as the route tree has them now (it follows reloads), or as
    configured when nothing is routed: a function giving the `MaintenanceWindows`."""
    from vigil.incidents.maintenance import MaintenanceWindows
    from vigil.incidents.router import time_intervals_of

    fixed = MaintenanceWindows.from_config(config.alerting.maintenance_windows, time_intervals_of(config.alerting))

    def now() -> Any:
        router = getattr(route_stage, "router", None)
        return router.maintenance if router is not None else fixed
    return now
