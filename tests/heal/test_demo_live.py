"""The demo heals itself, on the real fleet in real time: payments hangs (its process alive, its
probe failing; storefront fails with it, being its caller); vigil opens one incident about payments,
restarts payments alone through the fleet (a new process on the same port), and verifies it; the
demo's terminal view shows the action and its verification."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from vigil.app import build_app
from vigil.config import parse_config
from vigil.demo.fleet import Fleet
from vigil.demo.heal import restarters
from vigil.demo.view import DemoState, note_actions

pytestmark = pytest.mark.slow


async def _until(check: Any, within_s: float, show: Any) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"not within {within_s}s: {show()}"
        await asyncio.sleep(0.3)


@pytest.mark.timeout(240)
async def test_a_hung_payments_is_restarted_alone_and_verified(tmp_path: Path) -> None:
    with Fleet(tmp_path / "fleet", load=False, seed=3) as fleet:
        config = parse_config(fleet.vigil_config(probe_interval_s=1, probe_timeout_s=0.8, scrape_interval_s=1,
                                                 store_url=f"sqlite:///{tmp_path / 'v.db'}", runbooks=True))
        fixers = restarters(fleet)
        _, engine = build_app(config, actuators=cast(Any, fixers))
        await engine.start()
        try:
            await _until(lambda: set(engine.health().values()) == {"healthy"}, 60, engine.health)
            old_pid = fleet.services["payments"].pid
            async with httpx.AsyncClient(timeout=5) as http:
                await http.post(fleet.services["payments"].admin_url, json={"hang": True})

            def finished() -> bool:
                found = engine.store.actions()
                return bool(found) and found[0].finished
            await _until(finished, 120, lambda: [(a.service, a.state, a.story) for a in engine.store.actions()])
            [action] = engine.store.actions()
            assert (action.runbook, action.service, action.state) == ("restart-down", "payments", "succeeded"), \
                action.story
            assert fleet.services["payments"].pid != old_pid
            assert {name: f.restarts for name, f in fixers.items()} == {"catalog": 0, "payments": 1, "storefront": 0}
            assert engine.health()["payments"] == "healthy"
            # The demo's terminal shows the action and its verification, as the stage holds them.
            view = DemoState("http://127.0.0.1:1", "key", "sqlite://", fleet.admin_urls)
            note_actions(view, engine)
            [row] = view.actions
            assert (row.runbook, row.service, row.state, row.verdict) == ("restart-down", "payments", "succeeded",
                                                                           "passed"), row
        finally:
            await engine.stop()
            engine.store.close()
