"""Reports sent on a schedule (`reports:`), checked on the engine's tick. `due(now)` is called once a
pass: when a report's time comes it starts rendering it on the worker (the store is read there, never
on the loop) and returns its notices, kind `report`, in a later pass, once rendered. Each notice goes
to the email integrations of one receiver, carrying the report's subject, Markdown text and HTML.

Nothing is persisted here: after a restart, a report whose time passed less than `GRACE_S` ago is
rendered again with the same idempotency key (`report/<kind>/<time>`), and the outbox keeps one row per
key, receiver and integration, so it is sent once; one due longer ago is skipped to the next time."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from vigil.config import VigilConfig
from vigil.config.reports import WEEKDAYS, ReportScheduleConfig
from vigil.incidents.report_render import html_report, markdown, title
from vigil.incidents.reports import ReportStore, build
from vigil.model import AlertStatus, Notice
from vigil.pipeline import Offload

log = logging.getLogger("vigil.reports")

GRACE_S = 3600.0
SEARCH_DAYS = 64  # far enough to find the next day of any schedule (a day of the month)


def _matches(sc: ReportScheduleConfig, day: dt.date) -> bool:
    if sc.kind == "weekly":
        return WEEKDAYS[day.weekday()] == sc.weekday
    if sc.kind == "executive":
        return day.day == sc.day_of_month
    return True


def _at(sc: ReportScheduleConfig, day: dt.date) -> float:
    hour, minute = sc.hour_minute
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(sc.time_zone)).timestamp()


def previous_time(sc: ReportScheduleConfig, now: float) -> float | None:
    """The last time the schedule was due, at or before now."""
    today = dt.datetime.fromtimestamp(now, ZoneInfo(sc.time_zone)).date()
    for back in range(SEARCH_DAYS):
        day = today - dt.timedelta(days=back)
        if _matches(sc, day) and _at(sc, day) <= now:
            return _at(sc, day)
    return None


def next_time(sc: ReportScheduleConfig, now: float) -> float:
    """The first time the schedule is due after now."""
    today = dt.datetime.fromtimestamp(now, ZoneInfo(sc.time_zone)).date()
    for ahead in range(SEARCH_DAYS):
        day = today + dt.timedelta(days=ahead)
        if _matches(sc, day) and _at(sc, day) > now:
            return _at(sc, day)
    raise AssertionError(f"no {sc.kind} report time within {SEARCH_DAYS} days")  # every schedule has one


def email_integrations(config: VigilConfig, receiver: str) -> tuple[str, ...]:
    for r in config.alerting.receivers:
        if r.name == receiver:
            return tuple(f"email/{i}" for i in range(len(r.email_configs)))
    return ()


class ReportSchedule:
    def __init__(self, config: VigilConfig, store: ReportStore, worker: Offload) -> None:
        self.config, self.store, self.worker = config, store, worker
        self.schedules = list(config.reports)
        self._next: list[float | None] = [None] * len(self.schedules)
        self._jobs: dict[int, asyncio.Future[list[Notice]]] = {}
        self.sent = 0

    def due(self, now: float) -> list[Notice]:
        """The notices of the reports rendered since the last call; starts the ones whose time came."""
        out: list[Notice] = []
        for i, sc in enumerate(self.schedules):
            job = self._jobs.get(i)
            if job is not None and job.done():
                del self._jobs[i]
                try:
                    out += job.result()
                except Exception:
                    log.exception("the %s report could not be rendered; it is sent at its next time", sc.kind)
            at = self._next[i]
            if at is None:
                last = previous_time(sc, now)
                at = last if last is not None and now - last <= GRACE_S else next_time(sc, now)
                self._next[i] = at
            if now >= at and i not in self._jobs:
                self._next[i] = next_time(sc, now)
                self._jobs[i] = asyncio.ensure_future(self.worker.call(self.notices, sc, at, now))
        self.sent += len(out)
        return out

    async def idle(self) -> None:
        if self._jobs:
            await asyncio.wait(list(self._jobs.values()))

    def notices(self, sc: ReportScheduleConfig, at: float, now: float) -> list[Notice]:
        """Render the report due at `at` and address it (blocking: reads the store)."""
        report = build(self.config, self.store, sc.kind, at, now)
        content: dict[str, Any] = {
            "title": title(report, sc.time_zone),
            "kind": sc.kind,
            "text": markdown(report, sc.time_zone),
            "html": html_report(report, sc.time_zone),
        }
        return [
            Notice(
                f"report/{sc.kind}/{int(at)}",
                receiver,
                f"report/{sc.kind}",
                AlertStatus.FIRING,
                [],
                now,
                {"report": sc.kind},
                kind="report",
                integrations=email_integrations(self.config, receiver),
                report=dict(content),
            )
            for receiver in sc.receivers
        ]
