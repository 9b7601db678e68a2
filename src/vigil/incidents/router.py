"""The alerting section at work: the route tree, the dispatcher, inhibition, silences and maintenance
windows built from `alerting:` and driven by the engine's tick. No task or timer of its own:
everything moves on the `now` it is given, so it runs the same live and on a FakeClock.

Wiring (one stage, after `alerts`):

    router = AlertRouter.from_config(cfg.alerting, store, writer, hooks=[by_dependency])
    await router.start()                                   # silences and the notification log
    ...every pass:
    router.observe(batch.alerts + batch.alerts_refreshed, batch.now)
    flush = await router.tick(batch.now)                  # flush.notices -> the outbox
    if router.state_changed: batch.state[NFLOG_STATE_KEY] = router.save_state()
    ...SIGHUP / POST /-/reload:
    router.reload(new_cfg.alerting, now)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vigil.incidents.dispatch import Dispatcher, GroupView, integrations_of
from vigil.incidents.inhibit import InhibitionHook, Inhibitor, InhibitRule
from vigil.incidents.maintenance import MaintenanceWindows
from vigil.incidents.routing import Route, build_route, receivers_for
from vigil.incidents.silences import SilenceBook, SilenceChange, SilenceStore
from vigil.incidents.timeintervals import TimeIntervals
from vigil.model import Alert, Notice
from vigil.pipeline import Offload

NFLOG_STATE_KEY = "alerting.nflog"


@dataclass(slots=True)
class Flush:
    """What one tick produced: notices to hand to the outbox, silences that changed state."""

    notices: list[Notice] = field(default_factory=list)
    silence_changes: list[SilenceChange] = field(default_factory=list)


def time_intervals_of(config: Any) -> TimeIntervals:
    return TimeIntervals.from_config(t.model_dump() for t in config.named_time_intervals())


class AlertRouter:
    def __init__(self, config: Any, silences: SilenceBook, hooks: Sequence[InhibitionHook] = ()) -> None:
        self.silences = silences
        self.inhibitor = Inhibitor.from_config(config.inhibit_rules, hooks)
        self.maintenance = MaintenanceWindows()
        self.dispatcher: Dispatcher | None = None
        self._apply(config, None)

    @classmethod
    def from_config(cls, config: Any, store: SilenceStore | None = None, writer: Offload | None = None,
                    hooks: Sequence[InhibitionHook] = ()) -> "AlertRouter":
        """`config` is a VigilConfig's `alerting` (an AlertingConfig, validated and resolved)."""
        book = SilenceBook(store, writer, config.silences.max_duration, config.silences.retention)
        return cls(config, book, hooks)

    def _apply(self, config: Any, now: float | None) -> None:
        intervals = time_intervals_of(config)
        self.maintenance = MaintenanceWindows.from_config(config.maintenance_windows, intervals)
        route = build_route(config.route) if config.route is not None else None
        receivers = integrations_of(config.receivers)
        if route is None:
            self.dispatcher = None
        elif self.dispatcher is None or now is None:
            self.dispatcher = Dispatcher(route, receivers, [self.inhibitor, self.silences, self.maintenance],
                                         intervals, nflog=self.dispatcher.nflog if self.dispatcher else None)
        else:
            self.dispatcher.muters = [self.inhibitor, self.silences, self.maintenance]
            self.dispatcher.reload(route, receivers, intervals, now)

    async def start(self) -> None:
        await self.silences.load()

    @property
    def route(self) -> Route | None:
        return None if self.dispatcher is None else self.dispatcher.route

    def observe(self, alerts: Iterable[Alert], now: float) -> None:
        """Every change of the alert stream (new firing, resolved, firing with new annotations)."""
        for a in alerts:
            self.inhibitor.observe(a)
            if self.dispatcher is not None:
                self.dispatcher.add(a, now)

    async def tick(self, now: float) -> Flush:
        changes = await self.silences.tick(now)
        notices = self.dispatcher.flush_due(now) if self.dispatcher is not None else []
        return Flush(notices, changes)

    def reload(self, config: Any, now: float) -> None:
        """A new `alerting:` section (SIGHUP, POST /-/reload): groups are rebuilt with fresh timers,
        the notification log and the silences are kept (Alertmanager's behaviour)."""
        self.inhibitor.reload([InhibitRule.from_config(r) for r in config.inhibit_rules])
        self.silences.max_duration = config.silences.max_duration
        self.silences.retention = config.silences.retention
        self._apply(config, now)

    def receivers_for(self, labels: Mapping[str, str]) -> list[str]:
        return [] if self.route is None else receivers_for(self.route, labels)

    def muted_by(self, alert: Alert, now: float) -> list[str]:
        """Why an alert is not notified now (inhibition, silence, maintenance), for the API."""
        return [m.reason for m in (self.inhibitor, self.silences, self.maintenance) if m.mutes(alert, now)]

    def groups(self) -> list[GroupView]:
        return [] if self.dispatcher is None else self.dispatcher.groups()

    @property
    def state_changed(self) -> bool:
        return self.dispatcher is not None and self.dispatcher.state_changed

    def save_state(self) -> bytes:
        assert self.dispatcher is not None
        return self.dispatcher.save_state()

    def load_state(self, blob: bytes) -> None:
        if self.dispatcher is not None:
            self.dispatcher.load_state(blob)
