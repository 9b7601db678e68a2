"""Maintenance windows as a guard rail, through the real engine, API and SQLite store on a fake clock:
a window a runbook's step opened survives a restart of vigil (and holds every runbook off the service
until it ends), and a configured `alerting.maintenance_windows` window naming a service holds them off
too; both are listed at GET /api/v1/maintenance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.heal.conftest import T0, Vigil, start_vigil, stop
from tests.heal.test_remediate_timeline import RESTART
from vigil.testing import FakeClock

QUIET = """
  - name: quiet-during-deploy
    mode: active
    trigger: {alertname: [Deploying], for: 1s}
    steps:
      - {action: maintenance, state: open, duration: 10m}
    verify: {probes_healthy: false, metric: {series: errors, max: 0.1}, for: 5s, within: 60s}
"""
RUNBOOKS = RESTART + QUIET


def refusals(v: Vigil) -> list[tuple[str, str]]:
    return [(r["inputs"]["key"].split(":")[0], r["result"]["rule"]) for r in v.audit.records
            if r["action"] == "remediate.refused"]


@pytest.mark.timeout(60)
async def test_a_window_a_runbook_opened_survives_a_restart_and_holds_runbooks_off(tmp_path: Path) -> None:
    v = await start_vigil(tmp_path, RUNBOOKS)()
    try:
        await v.fire("Deploying", "payments", severity="warning")
        await v.run_for(10, errors={"payments": 0.01})
        [quiet] = await v.actions()
        assert quiet["runbook"] == "quiet-during-deploy" and quiet["state"] == "succeeded", quiet["story"]
        opened_at = quiet["steps"][0]["started_at"]
    finally:
        await stop(v)
    v = await start_vigil(tmp_path, RUNBOOKS, clock=FakeClock(v.clock.now()))()  # a new vigil, same store
    try:
        listed = (await v.client.get("/api/v1/maintenance")).json()["windows"]
        assert [(w["service"], w["source"], w["opened_by"]) for w in listed] == [
            ("payments", "runbook", "action:1 (quiet-during-deploy)")]
        assert listed[0]["ends_at"] == pytest.approx(opened_at + 600)
        await v.fire("PaymentsDown", "payments")
        await v.run_for(60, errors={"payments": 0.01})
        assert v.actuators["payments"].restarts == []  # the window holds: nothing restarts payments
        assert ("restart-payments", "maintenance") in refusals(v)
        await v.run_for(opened_at + 600 - v.clock.now() + 15, every=5, errors={"payments": 0.01})
        assert v.actuators["payments"].restarts == [(1, 1)]  # it ended: the runbook acts
        assert (await v.client.get("/api/v1/maintenance")).json()["windows"] == []
        assert v.engine.store.maintenance_windows() == []  # and it left the store
    finally:
        await stop(v)


CONFIGURED = """
alerting:
  maintenance_windows:
    - name: payments-db-upgrade
      services: [payments]
      starts_at: 2023-11-14T22:00:00Z
      ends_at: 2023-11-14T23:00:00Z
"""


@pytest.mark.timeout(60)
async def test_a_configured_window_naming_the_service_holds_runbooks_off(vigil_with: Any) -> None:
    assert 1_699_999_200 <= T0 < 1_700_002_800  # the window above is open at T0
    v: Vigil = await vigil_with(RESTART, extra=CONFIGURED)
    listed = (await v.client.get("/api/v1/maintenance")).json()["windows"]
    assert [(w["name"], w["source"], w["open"], w["services"]) for w in listed] == [
        ("payments-db-upgrade", "config", True, ["payments"])]
    await v.fire("PaymentsDown", "payments")
    await v.run_for(20, errors={"payments": 0.01})
    assert await v.actions() == [] and v.actuators["payments"].restarts == []
    [refused] = [r for r in v.audit.records if r["action"] == "remediate.refused"]
    assert refused["result"]["rule"] == "maintenance" and "payments-db-upgrade" in refused["reason"]
