"""Alertmanager's acceptance tests for sending (test/with_api_v2/acceptance/send_test.go), ported as
timelines: the same configuration, the same pushes at the same times, and the same expected
notifications in the same windows. Stricter than the originals: every notification received must
be one of those expected (Alertmanager's collector only checks that the expected ones arrived)."""

from __future__ import annotations

from tests.incidents.am_timeline import Acceptance, active, alert, conf


def merge_script(at: Acceptance) -> None:
    test = alert("alertname", "test")
    # Refresh an alert several times: the start stays the earliest.
    at.push(1, active(test, 1.1))
    at.push(1.2, active(test, 1))  # another Prometheus, later, with an earlier start
    at.push(2.1, active(test, 2, ann="v1"))
    # Annotations are those of the alert that arrived most recently.
    at.push(3.6, active(test, 1.5, ann="v2"))
    # Resolved twice: the latest end wins.
    at.push(4.6, active(test, 3, 4.5, ann="v2"))
    at.push(4.8, active(test, 2.9, 4.8, ann="v3"))
    at.push(4.8, active(test, 2.9, 4.1, ann="v3"))
    # Firing again after a resolved occurrence: no merge.
    at.push(5.3, test)


TEST = alert("alertname", "test")
WHILE_FIRING = [(2, 2.5, [active(TEST, 1)]), (3, 3.5, [active(TEST, 1, ann="v1")]),
                (4, 4.5, [active(TEST, 1, ann="v2")])]


async def test_merge_alerts_while_firing(tmp_path) -> None:
    at = Acceptance(tmp_path, conf(extra="    send_resolved: true"))
    merge_script(at)
    await at.run(4.5)
    at.check("webhook/0", WHILE_FIRING)


async def test_merge_alerts(tmp_path) -> None:
    at = Acceptance(tmp_path, conf(extra="    send_resolved: true"))
    merge_script(at)
    await at.run(7)
    at.check("webhook/0", [
        *WHILE_FIRING,
        (5, 5.5, [active(TEST, 1, 4.8, ann="v3")]),
        (6, 6.5, [active(TEST, 5.3)]),
        (7, 7, [active(TEST, 5.3)]),  # repeat_interval 1ms: every group_interval, until the run ends
    ])


async def test_repeat(tmp_path) -> None:
    at = Acceptance(tmp_path, conf())
    test = alert("alertname", "test")
    at.push(1, active(test, 1))
    at.push(3.5, active(test, 1, 3))
    await at.run(6)
    at.check("webhook/0", [
        (2, 2.5, [active(test, 1)]),
        (3, 3.5, [active(test, 1)]),
        (4, 4.5, [active(test, 1, 3)]),
    ])


async def test_batching(tmp_path) -> None:
    at = Acceptance(tmp_path, conf(group_by="[]", repeat_interval="4900ms"))
    t = [alert("alertname", f"test{i}") for i in range(6)]
    at.push(1.1, active(t[1], 1))
    at.push(1.7, active(t[5], 1))
    at.push(3.3, active(t[2], 1.5), active(t[3], 1.5), active(t[4], 1.6))
    await at.run(10)
    everything = [active(t[1], 1), active(t[5], 1), active(t[2], 1.5), active(t[3], 1.5), active(t[4], 1.6)]
    at.check("webhook/0", [
        (2.0, 2.5, [active(t[1], 1), active(t[5], 1)]),
        (4.1, 4.5, everything),
        # No change: nothing more until the repeat interval has passed.
        (9.1, 9.5, everything),
    ])


async def test_resolved(tmp_path) -> None:
    yml = "global:\n  resolve_timeout: 10s\n" + conf(group_interval="5s", repeat_interval="4h")
    at = Acceptance(tmp_path, yml)
    v = [alert("alertname", "test", "lbl", f"v{i}") for i in (1, 2, 3)]
    at.push(1, *v)
    await at.run(14)
    at.check("webhook/0", [
        (2, 2.5, [active(a, 1) for a in v]),
        (12, 13, [active(a, 1, 11) for a in v]),  # resolved by resolve_timeout at 11
    ])


async def test_resolved_filter(tmp_path) -> None:
    # Resolved alerts not sent (send_resolved: false) must still be logged as notified.
    yml = """
global:
  resolve_timeout: 10s
route:
  receiver: "default"
  group_by: [alertname]
  group_wait: 1s
  group_interval: 5s
receivers:
- name: "default"
  webhook_configs:
  - url: 'http://127.0.0.1:1/one'
    send_resolved: true
  - url: 'http://127.0.0.1:1/two'
    send_resolved: false
"""
    at = Acceptance(tmp_path, yml)
    v1, v2, v3 = (alert("alertname", "test", "lbl", f"v{i}") for i in (1, 2, 3))
    at.push(1, v1, v2)
    at.push(3, active(v1, 1, 4), v3)
    at.push(8, active(v3, 3))
    await at.run(14)
    at.check("webhook/0", [
        (2, 2.5, [active(v1, 1), active(v2, 1)]),
        (7, 7.5, [active(v1, 1, 4), active(v2, 1), active(v3, 3)]),
        (12, 12.5, [active(v2, 1, 11), active(v3, 3)]),  # v2 resolved by the time-out
    ])
    at.check("webhook/1", [
        (2, 2.5, [active(v1, 1), active(v2, 1)]),
        (7, 7.5, [active(v2, 1), active(v3, 3)]),
        # nothing at 12: no new alert fired
    ])


async def test_reload(tmp_path) -> None:
    # The first alert is not notified twice, and repeat_interval holds, across a reload.
    at = Acceptance(tmp_path, conf(group_by="[]", group_interval="6s", repeat_interval="10m"))
    t1, t2 = alert("alertname", "test1"), alert("alertname", "test2")
    at.push(1, t1)
    at.reload(3)
    at.push(4, t2)
    await at.run(12)
    at.check("webhook/0", [
        (2, 2.5, [active(t1, 1)]),
        # Timers restart at a reload: the 6 s group interval counts from 3.
        (9, 9.5, [active(t1, 1), active(t2, 4)]),
    ])
