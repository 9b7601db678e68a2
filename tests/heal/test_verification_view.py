"""Each action's verification verdict as the API (and so the dashboard) shows it, one incident's actions
(`?incident=N`), and each action's moves in the live feed, on a fake clock through the real engine,
API and SQLite store."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from tests.heal.test_remediate_timeline import RESTART
from vigil.heal.ledger import ActionRecord
from vigil.heal.verification import verification
from vigil.web.live import LiveFeed


class _Client:
    async def is_disconnected(self) -> bool:
        return False


def _feed(engine: Any) -> LiveFeed:
    [feed] = [f.__self__ for f in engine.pass_listeners if isinstance(getattr(f, "__self__", None), LiveFeed)]
    return feed


async def test_a_verified_action_says_passed_with_what_was_seen(vigil_with: Any) -> None:
    v = await vigil_with(RESTART)
    await v.fire("PaymentsDown", "payments")
    await v.run_for(13)
    [action] = await v.actions()
    assert action["verification"]["state"] == "verifying"
    assert action["verification"]["deadline"] == action["verify_started_at"] + 60
    await v.run_for(25, errors={"payments": 0.01})
    [action] = await v.actions()
    assert action["state"] == "succeeded"
    verdict = action["verification"]
    assert verdict["state"] == "passed" and "steady for 20s" in verdict["detail"], verdict
    one = (await v.client.get(f"/api/v1/actions/{action['id']}")).json()
    assert one["verification"] == verdict


async def test_a_fix_that_does_not_verify_says_failed_and_why(vigil_with: Any) -> None:
    v = await vigil_with(RESTART)
    await v.fire("PaymentsDown", "payments", severity="warning")
    await v.run_for(12)
    await v.run_for(70, errors={"payments": 0.5})
    [action] = await v.actions()
    assert action["state"] == "rolled_back"
    verdict = action["verification"]
    assert verdict["state"] == "failed" and "not verified within 60s" in verdict["detail"], verdict
    assert "0.5" in verdict["detail"] and "rolling back" not in verdict["detail"]


async def test_a_pending_action_is_not_started_and_the_incident_filter_finds_it(vigil_with: Any) -> None:
    v = await vigil_with(RESTART.replace("    rollback:", "    guards: {approval: true}\n    rollback:"))
    await v.fire("PaymentsDown", "payments")
    await v.fire("MailerDown", "mailer")  # another incident, no runbook for it
    await v.run_for(12)
    [pending] = await v.actions("pending")
    assert pending["verification"] == {"state": "not_started", "detail": "awaiting approval", "started_at": None,
                                       "deadline": None}
    mine = (await v.client.get("/api/v1/actions", params={"incident": pending["incident"]})).json()["actions"]
    assert [a["id"] for a in mine] == [pending["id"]]
    others = [i["id"] for i in (await v.client.get("/api/v1/incidents?status=all")).json()["incidents"]
              if i["id"] != pending["incident"]]
    assert others, "the mailer incident exists"
    assert (await v.client.get("/api/v1/actions", params={"incident": others[0]})).json()["actions"] == []
    bad = await v.client.get("/api/v1/actions", params={"incident": "x"})
    assert bad.status_code in (400, 422) and "incident" in bad.text
    denied = (await v.client.post(f"/api/v1/actions/{pending['id']}/deny", json={"by": "Bob"})).json()
    assert denied["state"] == "denied"
    [gone] = await v.actions()
    assert gone["verification"]["state"] == "not_run"


async def test_the_live_feed_carries_each_actions_move_and_its_verdict(vigil_with: Any) -> None:
    v = await vigil_with(RESTART)
    stream = _feed(v.engine).stream(_Client())  # type: ignore[arg-type]
    assert b"event: hello" in await anext(stream)
    got: list[bytes] = []

    async def read() -> None:
        async for message in stream:
            got.append(message)
    reader = asyncio.create_task(read())
    await v.fire("PaymentsDown", "payments")
    await v.run_for(13)
    await v.run_for(25, errors={"payments": 0.01})
    await asyncio.sleep(0)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    assert not any(m.startswith(b"event: lost") for m in got)
    moves = [(m["id"], m["from"], m["state"], m["note"]) for message in got if message.startswith(b"event: pass")
             for m in orjson.loads(message.split(b"data: ", 1)[1])["actions"]]
    assert [m[2] for m in moves] == ["approved", "running", "verifying", "succeeded"], moves
    assert moves[-1][3].startswith("verified: steady for 20s") and moves[-1][1] == "verifying"


def test_a_step_that_failed_before_verification_says_not_reached() -> None:
    a = ActionRecord(1, "k", "rb", "payments", 1, "rolled_back", "active", 0.0, 5.0,
                     story=["runbook rb matched", "started", "a step failed; rolling back", "rolled back"],
                     outcome="rolled back")
    assert verification(a)["state"] == "not_reached"
