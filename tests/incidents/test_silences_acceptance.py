"""Alertmanager's acceptance tests for silences (test/with_api_v2/acceptance/silence_test.go),
ported as timelines (see am_timeline.py)."""

from __future__ import annotations

from tests.incidents.am_timeline import Acceptance, active, alert, conf

CONF = conf(group_by="[]")


async def test_silencing(tmp_path) -> None:
    at = Acceptance(tmp_path, CONF)
    test1, test2 = alert("alertname", "test1"), alert("alertname", "test2")
    # No repeat interval to speak of: a notification every second.
    at.push(1, active(test1, 1))
    at.push(1, active(test2, 1))
    at.silence(2.3, "s", 'alertname="test1"', 2.5, 4.5)  # silences the first alert from 2.5 to 4.5
    await at.run(5.5)
    at.check("webhook/0", [
        (2, 2.5, [active(test1, 1), active(test2, 1)]),
        (3, 3.5, [active(test2, 1)]),
        (4, 4.5, [active(test2, 1)]),
        (5, 5.5, [active(test1, 1), active(test2, 1)]),  # the silence is over
    ])


async def test_silence_delete(tmp_path) -> None:
    at = Acceptance(tmp_path, CONF)
    test1, test2 = alert("alertname", "test1"), alert("alertname", "test2")
    at.push(1, active(test1, 1))
    at.push(1, active(test2, 1))
    # Silence everything for a long time; expire the silence after two group intervals.
    at.silence(1.3, "all", 'alertname=~".+"', 1.5, 100)
    at.expire_silence(3.5, "all")
    await at.run(4.5)
    at.check("webhook/0", [
        (3.5, 4.5, [active(test1, 1), active(test2, 1)]),
    ])
