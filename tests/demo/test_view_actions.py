"""The demo's terminal shows each self-healing action and its verification, as the engine's remediate
stage holds them: a real engine, API and SQLite store on a fake clock (tests/heal/conftest.py)."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from tests.heal.conftest import start_vigil, stop
from tests.heal.test_remediate_timeline import RESTART
from vigil.demo.view import DemoState, note_actions, render, status_line


def _text(state: DemoState) -> str:
    out = io.StringIO()
    Console(file=out, width=220).print(render(state))
    return out.getvalue()


async def test_each_action_and_its_verification_is_a_row_of_the_live_view(tmp_path: Path) -> None:
    v = await start_vigil(tmp_path, RESTART)()
    try:
        state = DemoState("http://127.0.0.1:1", "key", "sqlite:///x.db", {"payments": "http://127.0.0.1:2/admin/fault"})
        note_actions(state, v.engine)
        assert state.actions == [] and "self-healing" not in _text(state)  # nothing happened: no table
        await v.fire("PaymentsDown", "payments")
        await v.run_for(13)
        note_actions(state, v.engine)
        [row] = state.actions
        assert (row.runbook, row.service, row.state, row.verdict) == ("restart-payments", "payments", "verifying",
                                                                       "verifying")
        await v.run_for(25, errors={"payments": 0.01})
        note_actions(state, v.engine)
        [row] = state.actions
        assert (row.state, row.verdict) == ("succeeded", "passed") and "steady for 20s" in row.detail
        text = _text(state)
        [line] = [ln for ln in text.splitlines() if "restart-payments" in ln]
        assert "succeeded" in line and "passed" in line and "steady for 20s" in line
        assert "action #1 restart-payments on payments: succeeded; verification passed" in status_line(state)
    finally:
        await stop(v)


async def test_a_fix_that_did_not_verify_says_so_in_the_view(tmp_path: Path) -> None:
    v = await start_vigil(tmp_path, RESTART)()
    try:
        await v.fire("PaymentsDown", "payments", severity="warning")
        await v.run_for(12)
        await v.run_for(70, errors={"payments": 0.5})
        state = DemoState("http://127.0.0.1:1", "key", "sqlite:///x.db", {})
        note_actions(state, v.engine)
        [row] = state.actions
        assert (row.state, row.verdict) == ("rolled_back", "failed") and "not verified within 60s" in row.detail
        assert "failed" in _text(state)
    finally:
        await stop(v)
