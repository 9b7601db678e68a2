"""Killed mid-action, vigil reconciles at the next start: it finishes the steps not run, never starts
again a step that ran (or was running), and verifies or rolls back; no action is forgotten. The kill is
simulated by abandoning the engine without its orderly stop (no close, no final records)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.heal.conftest import Vigil, start_vigil, stop

RUNBOOK = """
runbooks:
  - name: slow-fix
    mode: active
    trigger: {alertname: [PaymentsDown]}
    steps:
      - {action: restart, replicas: 1}
      - {action: wait, duration: 30s}
      - {action: notify, message: "done with {service}"}
    verify: {probes_healthy: false, metric: {series: errors, max: 0.1}, for: 10s, within: 60s}
    rollback:
      - {action: scale, by: 1}
"""


async def crash(v: Vigil) -> None:
    """Like SIGKILL: every task of the engine stops where it is; nothing is closed or flushed."""
    remediate = v.engine.stages.remediate
    doomed = [*v.engine._tasks, *remediate.jobs.values()]
    for t in doomed:
        t.cancel()
    await asyncio.gather(*doomed, return_exceptions=True)
    await v.client.aclose()
    v.engine.store.close()


async def test_a_step_running_at_the_kill_is_not_repeated_and_the_rest_finish(tmp_path: Path) -> None:
    first = await start_vigil(tmp_path, RUNBOOK)()
    await first.fire("PaymentsDown", "payments")
    await first.run_for(10)  # the restart ran; the wait step is under way
    [action] = first.engine.store.actions()
    assert action.state == "running" and [s.state for s in action.steps] == ["succeeded", "running"]
    await crash(first)

    second = await start_vigil(tmp_path, RUNBOOK, clock=first.clock)()
    try:
        await second.run_for(3)
        await second.run_for(15, errors={"payments": 0.0})
        [after] = await second.actions()
        assert after["state"] == "succeeded", after["story"]
        assert [(s["kind"], s["state"]) for s in after["steps"]] == [
            ("restart", "succeeded"), ("wait", "interrupted"), ("notify", "succeeded")]
        assert first.actuators["payments"].restarts == [(1, 1)]
        assert second.actuators["payments"].restarts == []  # never again
        assert len(await second.actions()) == 1  # the same incident starts no second action
    finally:
        await stop(second)


async def test_an_action_verifying_at_the_kill_keeps_its_deadline_and_rolls_back(tmp_path: Path) -> None:
    first = await start_vigil(tmp_path, RUNBOOK)()
    await first.fire("PaymentsDown", "payments")
    await first.run_for(35)
    [action] = first.engine.store.actions()
    assert action.state == "verifying"
    deadline = action.verify_deadline
    await crash(first)

    second = await start_vigil(tmp_path, RUNBOOK, clock=first.clock)()
    try:
        await second.run_for(70, errors={"payments": 0.9})
        [after] = await second.actions()
        assert after["state"] == "rolled_back" and after["verify_deadline"] == deadline
        assert second.actuators["payments"].calls == [3]  # the rollback ran once, by the second vigil
        kinds = [(s["phase"], s["state"]) for s in after["steps"]]
        assert kinds.count(("steps", "succeeded")) == 3 and kinds[-1] == ("rollback", "succeeded")
    finally:
        await stop(second)


async def test_an_incident_left_unhandled_at_the_kill_is_acted_on_after_the_restart(tmp_path: Path) -> None:
    first = await start_vigil(tmp_path, RUNBOOK, paused=True)()
    await first.fire("PaymentsDown", "payments")
    await first.run_for(3)
    assert first.engine.store.actions() == []  # paused: nothing even created
    await crash(first)
    second = await start_vigil(tmp_path, RUNBOOK, clock=first.clock)()
    try:
        await second.run_for(3)
        [after] = await second.actions()
        assert after["state"] == "running" and second.actuators["payments"].restarts == [(1, 1)]
    finally:
        await stop(second)





async def test_an_action_written_but_not_yet_approved_at_the_kill_runs_after_the_restart(tmp_path: Path) -> None:
    """Killed between writing the action (`pending`) and approving it (no approval required): the next
    vigil approves and runs it once, rather than leaving it to wait for an approval nobody is asked for.
    The store is left as that kill leaves it: the action pending, with no expiry and no step."""
    approving = RUNBOOK.replace("    rollback:", "    guards: {approval: true}\n    rollback:")
    first = await start_vigil(tmp_path, approving)()
    await first.fire("PaymentsDown", "payments")
    await first.run_for(2)
    [action] = first.engine.store.actions()
    assert action.state == "pending" and not action.steps
    action.expires_at = None
    first.engine.store.save_action(action)
    await crash(first)

    second = await start_vigil(tmp_path, RUNBOOK, clock=first.clock)()
    try:
        await second.run_for(3)
        [after] = await second.actions()
        assert after["state"] == "running" and after["decided_by"] == "vigil", after["story"]
        assert second.actuators["payments"].restarts == [(1, 1)]
        assert first.actuators["payments"].restarts == []
    finally:
        await stop(second)
