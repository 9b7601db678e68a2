"""A runbook's `notify` step through the durable outbox to a real webhook receiver on loopback: to the
receivers the incident's alerts route to, or to the one the step names, keyed by the action and step,
sent once per receiver; and the configuration refuses a receiver that does not exist."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.heal.conftest import BASE, KEY, Vigil
from tests.heal.test_remediate_timeline import RESTART
from tests.notify.receivers import HttpReceiver
from vigil.config import ConfigError, parse_config

ALERTING = """
alerting:
  route: {{receiver: team, group_wait: 1s, group_interval: 1m, repeat_interval: 4h}}
  receivers:
    - name: team
      webhook_configs: [{{url: "{url}/team"}}]
    - name: boss
      webhook_configs: [{{url: "{url}/boss"}}]
"""
NOTIFY = '      - {action: notify, message: "restarted {service}"}\n'
RUNBOOK = RESTART.replace(NOTIFY, NOTIFY + '      - {action: notify, message: "told the boss about {service}", '
                                           'receiver: boss}\n')


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    rx = await HttpReceiver().start()
    yield rx
    await rx.stop()


def _remediation(rx: HttpReceiver, path: str) -> list[Any]:
    return [r for r in rx.requests if r.path == path and isinstance(r.body, dict) and "vigil" in r.body]


async def _delivered(v: Vigil, rx: HttpReceiver, wanted: int) -> None:
    """Passes (one simulated second each) until `wanted` remediation notices arrived, bounded."""
    for _ in range(50):
        outbox = v.engine.stages.notify.outbox
        await outbox.idle()
        if len(_remediation(rx, "/team")) + len(_remediation(rx, "/boss")) >= wanted:
            return
        await v.run_for(1, errors={"payments": 0.01})
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {[r.path for r in rx.requests]} arrived")


@pytest.mark.timeout(60)
async def test_notify_steps_go_through_the_outbox_to_the_routed_and_the_named_receiver(
        vigil_with: Any, receiver: HttpReceiver) -> None:
    v: Vigil = await vigil_with(RUNBOOK, extra=ALERTING.format(url=receiver.url))
    await v.fire("PaymentsDown", "payments")
    await v.run_for(13, errors={"payments": 0.01})
    await _delivered(v, receiver, 2)
    [team] = _remediation(receiver, "/team")  # the route tree sends payments' alerts to team
    [boss] = _remediation(receiver, "/boss")  # the step named boss
    assert team.body["vigil"]["message"] == "restarted payments"
    assert team.body["vigil"]["runbook"] == "restart-payments" and team.body["vigil"]["incident"] == 1
    assert team.headers["Idempotency-Key"] == "remediation/1/steps[1]"
    assert [a["labels"]["alertname"] for a in team.body["alerts"]] == ["PaymentsDown"]
    assert boss.body["vigil"]["message"] == "told the boss about payments"
    assert boss.headers["Idempotency-Key"] == "remediation/1/steps[2]"
    [action] = await v.actions()
    notify = [s for s in action["steps"] if s["kind"] == "notify"]
    assert [s["result"]["receivers"] for s in notify] == [["team"], ["boss"]]
    assert all(s["result"]["added"] == 1 for s in notify)
    inc = (await v.client.get("/api/v1/incidents/1")).json()
    lines = [e["message"] for e in inc["timeline"]]
    assert "restarted payments" in lines  # the message on the incident's timeline too
    assert any("remediation" not in m and "delivered to boss" in m for m in lines)  # its delivery, as any notice's


@pytest.mark.timeout(60)
async def test_a_step_told_again_is_sent_once_per_receiver(vigil_with: Any, receiver: HttpReceiver) -> None:
    """The key is the action's and the step's: telling it again (a step run twice) adds nothing."""
    v: Vigil = await vigil_with(RUNBOOK, extra=ALERTING.format(url=receiver.url))
    await v.fire("PaymentsDown", "payments")
    await v.run_for(13, errors={"payments": 0.01})
    await _delivered(v, receiver, 2)
    stage = v.engine.stages.remediate
    [record] = list(stage.actions.values())
    ctx = stage._context(record)
    ctx.step = "steps[2]"
    again = await stage.teller.tell(ctx, "told the boss about payments", "boss")
    assert again["duplicates"] == 1 and again["added"] == 0
    await v.run_for(3, errors={"payments": 0.01})
    await v.engine.stages.notify.outbox.idle()
    assert len(_remediation(receiver, "/boss")) == 1


def test_a_notify_step_naming_an_unknown_receiver_is_refused(tmp_path: Path) -> None:
    text = (BASE.format(db=tmp_path / "v.db", key=KEY, incidents="") + ALERTING.format(url="http://127.0.0.1:9")
            + RUNBOOK.replace("receiver: boss", "receiver: nobody"))
    with pytest.raises(ConfigError) as err:
        parse_config(text, env={})
    assert "runbooks[0].steps[2].receiver" in str(err.value) and "unknown receiver 'nobody'" in str(err.value)
    without_route = BASE.format(db=tmp_path / "v.db", key=KEY, incidents="") + RUNBOOK
    with pytest.raises(ConfigError) as err:
        parse_config(without_route, env={})
    assert "needs alerting.route" in str(err.value)
