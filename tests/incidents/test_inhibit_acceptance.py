"""Alertmanager's acceptance tests for inhibition (test/with_api_v2/acceptance/inhibit_test.go),
ported as timelines (see am_timeline.py)."""

from __future__ import annotations

from tests.incidents.am_timeline import Acceptance, active, alert, conf

CONF = conf(group_by="[]", repeat_interval="1s") + """
inhibit_rules:
- source_match:
    alertname: JobDown
  target_match:
    alertname: InstanceDown
  equal:
    - job
    - zone
"""


async def test_inhibiting(tmp_path) -> None:
    # An inhibited alert is notified again as soon as the inhibiting alert resolves.
    at = Acceptance(tmp_path, CONF)
    test1 = alert("alertname", "test1", "job", "testjob", "zone", "aa")
    down_aa = alert("alertname", "InstanceDown", "job", "testjob", "zone", "aa")
    down_ab = alert("alertname", "InstanceDown", "job", "testjob", "zone", "ab")
    job_down = alert("alertname", "JobDown", "job", "testjob", "zone", "aa")
    at.push(1, test1)
    at.push(1, down_aa)
    at.push(1, down_ab)
    at.push(2.2, job_down)  # inhibits InstanceDown in zone aa from the second batch on
    at.push(3.6, active(job_down, 2.2, 3.6))  # resolved: InstanceDown aa comes back in the third
    await at.run(4.5)
    at.check("webhook/0", [
        (2, 2.5, [active(test1, 1), active(down_aa, 1), active(down_ab, 1)]),
        (3, 3.5, [active(test1, 1), active(down_ab, 1), active(job_down, 2.2)]),
        (4, 4.5, [active(test1, 1), active(down_aa, 1), active(down_ab, 1), active(job_down, 2.2, 3.6)]),
    ])


async def test_always_inhibiting(tmp_path) -> None:
    # Inhibited and inhibiting alerts resolving together: the last notification holds both.
    at = Acceptance(tmp_path, CONF)
    down = alert("alertname", "InstanceDown", "job", "testjob", "zone", "aa")
    job_down = alert("alertname", "JobDown", "job", "testjob", "zone", "aa")
    at.push(1, down)
    at.push(1, job_down)
    at.push(2.6, active(job_down, 1, 2.6))
    at.push(2.6, active(down, 1, 2.6))
    await at.run(4.5)
    at.check("webhook/0", [
        (2, 2.5, [active(job_down, 1)]),
        (3, 3.5, [active(down, 1, 2.6), active(job_down, 1, 2.6)]),
    ])
