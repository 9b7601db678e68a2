"""The AlertRouter, as the engine's stage will drive it: built from `alerting:`, fed the alert
stream, ticked, reloaded with a new configuration (SIGHUP), restarted with its saved state."""

from __future__ import annotations

from vigil.config import parse_config
from vigil.incidents.router import AlertRouter
from vigil.model import Alert, AlertStatus

T0 = 1_700_000_000.0

CONFIG = """
services: [{name: payments}, {name: storefront, depends_on: [payments]}]
alerting:
  route:
    receiver: ops
    group_by: [service]
    group_wait: 10s
    group_interval: 1m
    routes:
    - matchers: [severity="critical"]
      receiver: pager
  receivers:
  - name: ops
    webhook_configs: [{url: 'http://127.0.0.1:1/ops'}]
  - name: pager
    pagerduty_configs: [{routing_key: k}]
  inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [service]
  maintenance_windows:
  - name: catalog-move
    matchers: [service="catalog"]
    starts_at: 2023-11-14T22:00:00Z
    ends_at: 2023-11-14T23:00:00Z
"""


def alert(at: float = T0, **labels: str) -> Alert:
    return Alert(labels, AlertStatus.FIRING, at)


async def ticks(router: AlertRouter, start: float, end: float, step: float = 1.0) -> list:
    out, t = [], start
    while t <= end:
        out += [(t - T0, n) for n in (await router.tick(t)).notices]
        t += step
    return out


async def test_stream_in_notices_out_with_inhibition_and_maintenance() -> None:
    router = AlertRouter.from_config(parse_config(CONFIG).alerting)
    await router.start()
    crit = alert(service="payments", severity="critical", alertname="Down")
    warn = alert(service="payments", severity="warning", alertname="Slow")
    catalog = alert(service="catalog", severity="warning", alertname="Slow")  # T0 is 22:13 UTC
    router.observe([crit, warn, catalog], T0)
    sent = await ticks(router, T0, T0 + 15)
    assert [(t, n.receiver, [a.labels["alertname"] for a in n.alerts]) for t, n in sent] == [
        (10, "pager", ["Down"])]  # Slow is inhibited by Down; catalog is in its maintenance window
    assert router.muted_by(warn, T0) == ["inhibition"] and router.muted_by(catalog, T0) == ["maintenance"]
    assert sent[0][1].integrations == ("pagerduty/0",)
    assert router.receivers_for({"severity": "critical"}) == ["pager"]


async def test_reload_keeps_the_notification_log_and_silences_and_applies_the_new_tree() -> None:
    router = AlertRouter.from_config(parse_config(CONFIG).alerting)
    await router.start()
    a = alert(service="payments", severity="warning", alertname="Slow")
    router.observe([a], T0)
    assert len(await ticks(router, T0, T0 + 15)) == 1
    s = await router.silences.create('alertname="Other"', T0, T0 + 3600, "ana", "noise", T0 + 16)
    # The same tree again: nothing is sent twice (the log is kept, timers restart).
    router.reload(parse_config(CONFIG).alerting, T0 + 20)
    assert await ticks(router, T0 + 20, T0 + 100) == []
    assert router.silences.get(s.id) == s
    # A new tree: the group now goes to a new receiver, which has not been told.
    router.reload(parse_config(CONFIG.replace("receiver: ops\n    group_by", "receiver: team\n    group_by")
                               .replace("- name: ops", "- name: team")).alerting, T0 + 101)
    sent = await ticks(router, T0 + 101, T0 + 110)
    assert [(t, n.receiver) for t, n in sent] == [(101, "team")]  # older than group_wait: at once


async def test_the_saved_state_carries_over_a_restart() -> None:
    config = parse_config(CONFIG).alerting
    first = AlertRouter.from_config(config)
    a = alert(service="payments", severity="warning", alertname="Slow")
    first.observe([a], T0)
    await ticks(first, T0, T0 + 15)
    assert first.state_changed
    blob = first.save_state()
    assert not first.state_changed
    second = AlertRouter.from_config(config)
    second.load_state(blob)
    second.observe([a], T0 + 100)  # the book's firing alerts, re-read at start
    assert await ticks(second, T0 + 100, T0 + 200) == []
    second.observe([a.resolve(T0 + 201, "ok")], T0 + 201)
    sent = await ticks(second, T0 + 201, T0 + 300)
    assert [n.status for _, n in sent] == [AlertStatus.RESOLVED]


async def test_without_a_route_nothing_is_sent() -> None:
    router = AlertRouter.from_config(parse_config("services: []\n").alerting)
    router.observe([alert(alertname="X")], T0)
    assert (await router.tick(T0 + 3600)).notices == [] and router.receivers_for({"a": "b"}) == []
