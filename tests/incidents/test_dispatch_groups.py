"""The dispatcher beyond Alertmanager's acceptance scenarios: default timings, grouping and
continue, integrations told apart by send_resolved, time intervals at flush time, blackhole
receivers, idempotency keys across a crash, the notification log across a restart, limits."""

from __future__ import annotations

import yaml

from vigil.config.alerting import RouteConfig
from vigil.config.receivers import Receiver
from vigil.incidents.dispatch import Dispatcher, integrations_of
from vigil.incidents.inhibit import Inhibitor
from vigil.incidents.maintenance import MaintenanceWindow, MaintenanceWindows
from vigil.incidents.routing import build_route
from vigil.incidents.timeintervals import TimeInterval, TimeIntervals
from vigil.model import Alert, AlertStatus

T0 = 1_700_000_000.0  # a Tuesday, 22:13:20 UTC


def route(text: str):  # type: ignore[no-untyped-def]
    return build_route(RouteConfig.model_validate(yaml.safe_load(text)))


def firing(at: float = T0, **labels: str) -> Alert:
    return Alert(labels, AlertStatus.FIRING, at)


def run(d: Dispatcher, until: float, step: float = 1.0, start: float = T0) -> list[tuple[float, object]]:
    out = []
    t = start
    while t <= until:
        out += [(t - T0, n) for n in d.flush_due(t)]
        t += step
    return out


def test_default_timings_group_wait_interval_and_repeat() -> None:
    d = Dispatcher(route("receiver: team\ngroup_by: [alertname]"))
    d.add(firing(alertname="Down", instance="a"), T0)
    d.add(firing(T0 + 10, alertname="Down", instance="b"), T0 + 10)  # joins the group: no new wait
    sent = run(d, T0 + 4 * 3600 + 600, step=5)
    times = [t for t, _ in sent]
    assert times[0] == 30  # group_wait 30 s
    assert len(sent[0][1].alerts) == 2
    # Nothing changed: the next notice is the repeat, at the first group_interval tick after 4 h.
    assert times[1] == 30 + 49 * 300 and len(times) == 2
    first, repeat = sent[0][1], sent[1][1]
    assert first.key != repeat.key and first.group_key == repeat.group_key == '{}:{alertname="Down"}'


def test_a_change_waits_for_the_next_group_interval_and_a_resend_changes_nothing() -> None:
    d = Dispatcher(route("receiver: team\ngroup_by: [alertname]"))
    a = firing(alertname="Down", instance="a")
    d.add(a, T0)
    assert [t for t, _ in run(d, T0 + 60)] == [30]
    d.add(firing(alertname="Down", instance="a"), T0 + 61)  # re-sent unchanged
    assert run(d, T0 + 300, start=T0 + 61) == []
    d.add(firing(T0 + 301, alertname="Down", instance="b"), T0 + 301)
    sent = run(d, T0 + 700, start=T0 + 301)
    assert [t for t, _ in sent] == [330]  # 30 + 300: the group's next interval tick
    d.add(a.resolve(T0 + 701, "fixed"), T0 + 701)
    sent = run(d, T0 + 1000, start=T0 + 701)
    assert [t for t, _ in sent] == [930]  # resolved: a send_resolved receiver is told at the next tick
    assert [x.status for x in sent[0][1].alerts] == [AlertStatus.RESOLVED, AlertStatus.FIRING]


def test_an_alert_older_than_group_wait_flushes_at_once() -> None:
    d = Dispatcher(route("receiver: team"))
    d.add(firing(T0 - 3600, alertname="Old"), T0)  # e.g. re-read from the store after a restart
    assert [t for t, _ in run(d, T0 + 5)] == [0]


def test_continue_and_group_by_all() -> None:
    d = Dispatcher(route("""
receiver: default
routes:
- matchers: [severity="critical"]
  receiver: pager
  continue: true
  group_by: ['...']
- matchers: [team="db"]
  receiver: db
  group_by: [service]
"""))
    d.add(firing(alertname="Disk", severity="critical", team="db", service="pg"), T0)
    d.add(firing(alertname="Lag", severity="warning", team="db", service="pg"), T0)
    sent = [n for _, n in run(d, T0 + 31)]
    by_receiver = {n.receiver: n for n in sent}
    assert sorted(by_receiver) == ["db", "pager"]
    assert by_receiver["pager"].group_key == ('{}/{severity="critical"}:{alertname="Disk", service="pg", '
                                              'severity="critical", team="db"}')
    assert by_receiver["db"].group_key == '{}/{team="db"}:{service="pg"}'
    assert [a.labels["alertname"] for a in by_receiver["db"].alerts] == ["Disk", "Lag"]
    assert by_receiver["db"].group_labels == {"service": "pg"}


def test_send_resolved_splits_the_integrations_of_one_receiver() -> None:
    receivers = [Receiver.model_validate({"name": "ops", "webhook_configs": [{"url": "http://127.0.0.1:1/"}],
                                          "slack_configs": [{"api_url": "http://127.0.0.1:1/s"}]})]
    assert integrations_of(receivers) == {"ops": [("slack/0", False), ("webhook/0", True)]}
    d = Dispatcher(route("receiver: ops\ngroup_wait: 0s\ngroup_interval: 10s"), integrations_of(receivers))
    a = firing(alertname="Down")
    d.add(a, T0)
    first = d.flush_due(T0)
    assert sorted((n.integrations, len(n.alerts)) for n in first) == [(("slack/0",), 1), (("webhook/0",), 1)]
    d.add(a.resolve(T0 + 5, "ok"), T0 + 5)
    last = d.flush_due(T0 + 10)
    # Only the webhook says "resolved"; Slack (send_resolved false) is not told, but its log is cleared.
    assert [(n.integrations, n.status) for n in last] == [(("webhook/0",), AlertStatus.RESOLVED)]
    d.add(firing(T0 + 15, alertname="Down"), T0 + 15)
    again = d.flush_due(T0 + 20)
    assert sorted(n.integrations for n in again) == [("slack/0",), ("webhook/0",)]


def test_a_receiver_without_integrations_is_a_blackhole() -> None:
    d = Dispatcher(route("receiver: null\ngroup_wait: 0s"), {"null": []})
    d.add(firing(alertname="X"), T0)
    assert d.flush_due(T0) == [] and d.alert_count() == 1


def test_mute_and_active_time_intervals_apply_at_flush_and_drop_resolved_alerts() -> None:
    night = TimeInterval(times=((22 * 60, 24 * 60),))  # T0 is 22:13 UTC
    intervals = TimeIntervals({"night": [night], "day": [TimeInterval(times=((8 * 60, 20 * 60),))]})
    d = Dispatcher(route("""
receiver: default
group_wait: 0s
group_interval: 60s
routes:
- matchers: [team=web]
  mute_time_intervals: [night]
- matchers: [team=db]
  active_time_intervals: [day]
"""), None, time_intervals=intervals)
    web, db = firing(team="web", alertname="A"), firing(team="db", alertname="B")
    d.add(web, T0)
    d.add(db, T0)
    assert d.flush_due(T0) == []
    assert d.suppressed == {"mute_time_interval": 1, "active_time_interval": 1}
    d.add(web.resolve(T0 + 30, "ok"), T0 + 30)
    assert d.flush_due(T0 + 60) == []
    assert d.alert_count() == 1  # the resolved one left its group unsent, as in Alertmanager
    midnight = T0 + 6400  # 00:00 UTC: night is over, day has not begun
    d.add(firing(midnight, team="web", alertname="C"), midnight)
    sent = run(d, midnight + 60, start=midnight)
    assert [(n.receiver, [a.labels["alertname"] for a in n.alerts]) for _, n in sent] == [("default", ["C"])]


def test_muters_inhibition_hook_and_maintenance_windows() -> None:
    by_dependency = {"storefront"}  # the lead's rule: services whose dependency has a root-cause alert

    def hook(alert: Alert, now: float) -> bool:
        return alert.labels.get("service") in by_dependency

    inhibitor = Inhibitor(hooks=[hook])
    window = MaintenanceWindow("upgrade", frozenset({"catalog"}), (), (), T0, T0 + 100)
    maintenance = MaintenanceWindows([window])
    d = Dispatcher(route("receiver: r\ngroup_by: [service]\ngroup_wait: 0s\ngroup_interval: 10s"), None,
                   [inhibitor, maintenance])
    for s in ("payments", "storefront", "catalog"):
        d.add(firing(service=s, alertname="Errors"), T0)
    assert sorted(n.group_labels["service"] for n in d.flush_due(T0)) == ["payments"]
    assert d.suppressed == {"inhibition": 1, "maintenance": 1}
    by_dependency.clear()
    later = [(t, n.group_labels["service"]) for t, n in run(d, T0 + 110, step=10, start=T0 + 10)]
    assert later == [(10, "storefront"), (100, "catalog")]  # the window closed at T0 + 100


def test_a_resend_after_a_crash_has_the_same_key_and_a_restored_log_sends_nothing_twice() -> None:
    tree = "receiver: r\ngroup_by: [alertname]\ngroup_wait: 5s"
    a, b = firing(alertname="Down", i="1"), firing(alertname="Down", i="2")
    before = Dispatcher(route(tree))
    saved = before.save_state()  # the last state saved before the crash (empty)
    before.add(a, T0)
    before.add(b, T0)
    sent = before.flush_due(T0 + 5)
    # Crash before the log was saved again: the restarted dispatcher sends the same notice, same key.
    after = Dispatcher(route(tree))
    after.load_state(saved)
    after.add(a, T0 + 60)
    after.add(b, T0 + 60)
    again = after.flush_due(T0 + 60)
    assert [n.key for n in again] == [n.key for n in sent] and len(sent) == 1
    # With the log saved after the send, a restart sends nothing until something changes.
    restored = Dispatcher(route(tree))
    restored.load_state(before.save_state())
    restored.add(a, T0 + 60)
    restored.add(b, T0 + 60)
    assert restored.flush_due(T0 + 60) == []
    restored.add(a.resolve(T0 + 70, "ok"), T0 + 70)
    assert [n.status for n in restored.flush_due(T0 + 360)] == [AlertStatus.FIRING]  # b still fires


def test_empty_groups_go_at_maintenance_and_max_groups_is_a_limit() -> None:
    tree = "receiver: r\ngroup_by: [alertname]\ngroup_wait: 0s\ngroup_interval: 10s"
    d = Dispatcher(route(tree), max_groups=2)
    for name in ("A", "B", "C"):
        d.add(firing(alertname=name), T0)
    assert d.groups_refused == 1 and len(d.groups()) == 2
    d.add(firing(alertname="A").resolve(T0 + 1, "ok"), T0 + 1)
    d.flush_due(T0 + 1)
    d.flush_due(T0 + 10)  # A resolved: sent and dropped; its empty group lives until maintenance
    d.flush_due(T0 + 31)
    d.add(firing(T0 + 32, alertname="C"), T0 + 32)
    assert sorted(g.labels["alertname"] for g in d.groups()) == ["B", "C"]


def test_a_receiver_told_of_a_firing_alert_hears_it_resolve_after_a_long_mute() -> None:
    # repeat_interval 1m: the log entry expires after 2m; a mute of an hour must not make vigil
    # forget that the receiver was told (Alertmanager would, at its next log GC).
    muted = {"on": False}

    class Mute:
        reason = "silence"

        def mutes(self, alert: Alert, now: float) -> bool:
            return muted["on"] and alert.status is AlertStatus.FIRING

    tree = "receiver: r\ngroup_wait: 0s\ngroup_interval: 10s\nrepeat_interval: 1m"
    d = Dispatcher(route(tree), None, [Mute()])
    a, b = firing(alertname="A"), firing(alertname="B")
    d.add(a, T0)
    d.add(b, T0)
    assert len(d.flush_due(T0)) == 1
    muted["on"] = True
    assert run(d, T0 + 3600, step=10, start=T0 + 10) == []
    muted["on"] = False
    d.add(a.resolve(T0 + 3601, "ok"), T0 + 3601)
    d.add(b.resolve(T0 + 3601, "ok"), T0 + 3601)
    sent = run(d, T0 + 3620, step=10, start=T0 + 3610)
    assert [n.status for _, n in sent] == [AlertStatus.RESOLVED]
