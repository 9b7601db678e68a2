"""The kill switch: one flag that stops every automatic action at once (`vigil pause` / `vigil resume`,
`POST /api/v1/automation`). Stages ask `is_paused()` before they act; while paused they still decide
and record what they would have done, marked "paused". The state (who paused, when, why) is saved in
the store, so a restart keeps it, and every change goes to the audit log."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from vigil.audit import AuditLog
from vigil.clock import Clock
from vigil.pipeline import Offload

log = logging.getLogger("vigil.automation")

STATE_KEY = "automation"
MAX_REASON = 1000


@dataclass(frozen=True, slots=True)
class AutomationState:
    paused: bool = False
    by: str | None = None  # who changed it last
    at: float | None = None  # when
    reason: str = ""

    def view(self) -> dict[str, Any]:
        return asdict(self)


class Automation:
    def __init__(self, store: Any, writer: Offload, clock: Clock, audit: AuditLog, metrics: Any = None) -> None:
        self.store = store
        self.writer = writer
        self.clock = clock
        self.audit = audit
        self.state = AutomationState()
        self._gauge = None
        if metrics is not None:
            from prometheus_client import Gauge

            self._gauge = Gauge("vigil_automation_paused", "1 while automatic actions are paused (vigil pause)",
                                registry=metrics.registry)
            self._gauge.set(0)

    def is_paused(self) -> bool:
        return self.state.paused

    async def load(self) -> AutomationState:
        """The saved state (at start): a pause survives a restart."""
        blob = await self.writer.call(self.store.load_state, STATE_KEY)
        if blob:
            try:
                self.state = AutomationState(**orjson.loads(blob))
            except (orjson.JSONDecodeError, TypeError):
                log.error("the saved automation state is unreadable; starting unpaused")
        self._show()
        if self.state.paused:
            log.warning("automation is paused (by %s: %s): vigil decides but takes no automatic action",
                        self.state.by, self.state.reason or "no reason given")
        return self.state

    async def set(self, paused: bool, by: str, reason: str = "") -> AutomationState:
        """Pause or resume; saved before it takes effect, and audited."""
        reason = reason[:MAX_REASON]
        before = self.state
        after = AutomationState(paused, by, self.clock.now(), reason)
        await self.writer.call(self.store.save_state, STATE_KEY, orjson.dumps(after.view()))
        self.state = after
        self._show()
        self.audit.append(by, "automation.pause" if paused else "automation.resume", reason or "no reason given",
                          {"paused": paused}, {"before": before.view(), "after": after.view()}, 0.0)
        log.warning("automation %s by %s%s", "paused" if paused else "resumed", by, f": {reason}" if reason else "")
        return after

    def _show(self) -> None:
        if self._gauge is not None:
            self._gauge.set(1 if self.state.paused else 0)
