"""A harness in the style of Alertmanager's acceptance tests (test/with_api_v2/acceptance): pushes
and silences at t=.., then "this integration received exactly these alerts between t1 and t2".

It drives the production path on simulated time: the alertmanager.yml is loaded as vigil loads one
(`alerting.alertmanager_config`), alerts are parsed by the Alertmanager API ingest
(`parse_alertmanager_api`, resolve_timeout included) and booked by the engine's AlertBook (merge,
expiry), and the AlertRouter gets the book's changes and is ticked every 50 ms, as the engine's
tick would. Times are seconds after the test's start (T0)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.config import load_config
from vigil.incidents.router import AlertRouter
from vigil.model import Alert, AlertStatus, Notice
from vigil.sources.alerts_in import parse_alertmanager_api
from vigil.stages.alerts import AlertBook
from vigil.testing import InlineWriter

T0 = 1_700_000_000.0
STEPS_PER_S = 20  # the harness's tick: 50 ms


class _NoAlerts:
    def alerts(self, status: str | None = None, service: str | None = None, limit: int = 1000) -> list[Alert]:
        return []


WEBHOOK = """
route:
  receiver: "default"
  group_by: {group_by}
  group_wait:      {group_wait}
  group_interval:  {group_interval}
  repeat_interval: {repeat_interval}

receivers:
- name: "default"
  webhook_configs:
  - url: 'http://127.0.0.1:1/'
{extra}
"""


def conf(group_by: str = "[alertname]", group_wait: str = "1s", group_interval: str = "1s",
         repeat_interval: str = "1ms", extra: str = "") -> str:
    """The configuration most acceptance tests use: one webhook receiver, these timings."""
    return WEBHOOK.format(group_by=group_by, group_wait=group_wait, group_interval=group_interval,
                          repeat_interval=repeat_interval, extra=extra)


@dataclass
class A:
    """An alert as the acceptance tests write one: labels, and Active(start[, end])."""

    labels: dict[str, str]
    start: float | None = None
    end: float | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    def postable(self) -> dict[str, Any]:
        d: dict[str, Any] = {"labels": self.labels, "annotations": self.annotations}
        if self.start is not None:
            d["startsAt"] = T0 + self.start
        if self.end is not None:
            d["endsAt"] = T0 + self.end
        return d


def alert(*kv: str) -> A:
    return A(dict(zip(kv[::2], kv[1::2], strict=True)))


def active(a: A, start: float, end: float | None = None, **annotations: str) -> A:
    return A(a.labels, start, end, {**a.annotations, **annotations})


@dataclass
class Received:
    at: float
    notice: Notice


class Acceptance:
    def __init__(self, tmp_path: Path, alertmanager_yml: str) -> None:
        (tmp_path / "alertmanager.yml").write_text(alertmanager_yml)
        (tmp_path / "vigil.yaml").write_text("alerting:\n  alertmanager_config: alertmanager.yml\n")
        self.config = load_config(tmp_path / "vigil.yaml").alerting
        self.router = AlertRouter.from_config(self.config)
        self.book = AlertBook(_NoAlerts(), InlineWriter())
        self.book._loaded = True  # nothing stored to load
        self.actions: list[tuple[float, int, Any]] = []
        self.received: dict[str, list[Received]] = {}
        self.silences: dict[str, str] = {}  # harness name -> silence id

    # ------------------------------------------------------------------------------ the script

    def push(self, at: float, *alerts: A) -> None:
        self._do(at, lambda now: self._push(now, alerts))

    def silence(self, at: float, name: str, matchers: str, start: float, end: float) -> None:
        async def create(now: float) -> None:
            s = await self.router.silences.create(matchers, T0 + start, T0 + end, "acceptance", name, now)
            self.silences[name] = s.id
        self._do(at, create)

    def expire_silence(self, at: float, name: str) -> None:
        async def expire(now: float) -> None:
            await self.router.silences.expire(self.silences[name], now)
        self._do(at, expire)

    def reload(self, at: float) -> None:
        self._do(at, lambda now: self.router.reload(self.config, now))

    def _do(self, at: float, fn: Any) -> None:
        self.actions.append((at, len(self.actions), fn))

    def _push(self, now: float, alerts: tuple[A, ...]) -> None:
        parsed = parse_alertmanager_api([a.postable() for a in alerts], now,
                                        self.config.global_.resolve_timeout)
        assert not parsed.errors, parsed.errors
        changes = [c for c in (self.book.apply(a) for a in parsed.alerts) if c is not None]
        refreshed, self.book.refreshed = self.book.refreshed, []
        self.router.observe(changes + refreshed, now)

    async def run(self, until: float) -> None:
        await self.router.start()
        todo = sorted(self.actions, key=lambda x: (x[0], x[1]))
        for step in range(int(until * STEPS_PER_S) + 1):
            t = step / STEPS_PER_S
            now = T0 + t
            while todo and todo[0][0] <= t + 1e-9:
                result = todo.pop(0)[2](now)
                if hasattr(result, "__await__"):
                    await result
            self.router.observe(self.book.expire(now), now)  # the alerts stage's expiry, every pass
            flush = await self.router.tick(now)
            for n in flush.notices:
                for integration in n.integrations:
                    self.received.setdefault(integration, []).append(Received(t, n))

    # -------------------------------------------------------------------------------- checking

    def check(self, integration: str, wants: list[tuple[float, float, list[A]]]) -> None:
        """Exactly these notifications, in order: each inside its window with these alerts."""
        got = self.received.get(integration, [])
        shown = [(r.at, [_show(a) for a in r.notice.alerts]) for r in got]
        assert len(got) == len(wants), f"{integration}: expected {len(wants)} notifications, got {shown}"
        for (lo, hi, alerts), r in zip(wants, got, strict=True):
            assert lo <= r.at <= hi, f"{integration}: one at {r.at}, expected in [{lo}, {hi}]: {shown}"
            assert sorted(map(_show, r.notice.alerts)) == sorted(map(_want, alerts)), \
                f"{integration} at {r.at}: {shown}"


def _show(a: Alert) -> tuple:
    end = None if a.status is AlertStatus.FIRING else round(float(a.ends_at or 0) - T0, 3)
    # vigil's book adds a `resolution` annotation (why it ended); Alertmanager has none to compare.
    notes = tuple(sorted((k, v) for k, v in a.annotations.items() if k != "resolution"))
    return (tuple(sorted(a.labels.items())), round(a.starts_at - T0, 3), end, notes)


def _want(a: A) -> tuple:
    return (tuple(sorted(a.labels.items())), a.start, a.end, tuple(sorted(a.annotations.items())))
