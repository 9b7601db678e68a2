"""Remediation as timelines on a fake clock through the real engine, API and SQLite store: a runbook
matches an incident's root cause, acts through the actuator, verifies the steady state, and on failure
rolls back and escalates the incident with its story."""

from __future__ import annotations

from typing import Any

RESTART = """
runbooks:
  - name: restart-payments
    mode: active
    trigger: {alertname: [PaymentsDown], for: 10s}
    steps:
      - {action: restart, replicas: 1}
      - {action: notify, message: "restarted {service}"}
    verify:
      probes_healthy: false
      metric: {series: errors, max: 0.1}
      for: 20s
      within: 60s
    rollback:
      - {action: scale, by: 1}
"""

RESTART_ANY = """
runbooks:
  - name: restart-anything
    mode: active
    trigger: {alertname: [Down], for: 10s}
    steps: [{action: restart}]
    verify: {probes_healthy: false, metric: {series: errors, max: 0.1}, for: 5s, within: 30s}
"""


async def test_a_matched_runbook_restarts_the_service_and_verifies_it(vigil_with: Any) -> None:
    v = await vigil_with(RESTART)
    await v.fire("PaymentsDown", "payments")
    await v.run_for(5)
    assert await v.actions() == []  # `for: 10s` has not passed
    await v.run_for(8)
    [action] = await v.actions()
    assert action["state"] == "verifying" and action["service"] == "payments"
    assert v.actuators["payments"].restarts == [(1, 1)]  # 50% of 2 replicas at once = 1
    assert [s["state"] for s in action["steps"]] == ["succeeded", "succeeded"]
    await v.run_for(25, errors={"payments": 0.01})
    [action] = await v.actions()
    assert action["state"] == "succeeded", action["story"]
    assert action["decided_by"] == "vigil"
    await v.run_for(30, errors={"payments": 0.01})
    assert len(await v.actions()) == 1  # one action per runbook and incident episode: never again
    assert v.actuators["payments"].restarts == [(1, 1)]
    inc = (await v.client.get("/api/v1/incidents/1")).json()
    kinds = [e["message"] for e in inc["timeline"] if e["kind"] == "action"]
    assert any("succeeded" in m for m in kinds) and any("restart-payments" in m for m in kinds)
    audited = [r["action"] for r in v.audit.records]
    assert audited[:2] == ["remediate.matched", "action.approved"] and "action.succeeded" in audited


async def test_a_fix_that_does_not_verify_is_rolled_back_and_escalated(vigil_with: Any) -> None:
    v = await vigil_with(RESTART)
    await v.fire("PaymentsDown", "payments", severity="warning")
    await v.run_for(12)
    await v.run_for(70, errors={"payments": 0.5})  # never within tolerance
    [action] = await v.actions()
    assert action["state"] == "rolled_back", action["story"]
    assert [(s["phase"], s["kind"], s["state"]) for s in action["steps"]] == [
        ("steps", "restart", "succeeded"), ("steps", "notify", "succeeded"), ("rollback", "scale", "succeeded")]
    assert v.actuators["payments"].calls == [3]  # the rollback step ran: 2 + 1
    inc = (await v.client.get("/api/v1/incidents/1")).json()
    assert inc["severity"] == "critical"
    [esc] = [e for e in inc["timeline"] if e["kind"] == "escalated"]
    assert "errors{service=\"payments\"} = 0.5" in esc["message"] and "restart" in esc["message"]


async def test_runbooks_act_on_the_root_cause_never_downstream(vigil_with: Any) -> None:
    v = await vigil_with(RESTART_ANY)
    await v.fire("Down", "storefront")  # the symptom first
    await v.run_for(2)
    await v.fire("Down", "payments")  # storefront depends on payments: one incident about payments
    await v.run_for(15)
    found = await v.actions()
    assert [a["service"] for a in found] == ["payments"]
    assert v.actuators["storefront"].restarts == [] and v.actuators["payments"].restarts == [(2, 1)]


async def test_a_later_failure_is_fixed_even_while_a_recovered_incident_is_held_open(vigil_with: Any) -> None:
    """payments' incident is held open after it recovered (here `resolve_after`); a storefront symptom
    that lags payments' recovery is still payments' and is left alone; storefront failing again after
    payments recovered is a failure of its own, and storefront is restarted."""
    v = await vigil_with(RESTART_ANY, incidents=", resolve_after: 300s")
    await v.fire("Down", "payments")
    await v.run_for(2)
    await v.fire("Down", "storefront")  # joins payments' incident: downstream of it
    await v.run_for(14)
    await v.fire("Down", "payments", status="resolved")
    await v.run_for(20)  # storefront lags payments' recovery: still payments' symptom
    assert [a["service"] for a in await v.actions()] == ["payments"]
    await v.fire("Down", "storefront", status="resolved")
    await v.run_for(5)
    await v.fire("Down", "storefront")  # later, payments healthy: storefront's own failure
    await v.run_for(12)
    assert sorted(a["service"] for a in await v.actions()) == ["payments", "storefront"]
    assert v.actuators["storefront"].restarts == [(2, 1)]
    [inc] = (await v.client.get("/api/v1/incidents?status=all")).json()["incidents"]
    assert inc["status"] == "open"  # the same incident, held open: storefront fired again inside it


async def test_after_the_root_recovered_a_new_failure_is_fixed_at_its_source_not_its_callers(vigil_with: Any) -> None:
    """catalog's incident is held open after it recovered; then payments fails and storefront (which
    calls payments) with it: both are failures after catalog's recovery, but storefront's is payments'
    symptom, so only payments is restarted."""
    v = await vigil_with(RESTART_ANY, incidents=", resolve_after: 300s")
    await v.fire("Down", "catalog")
    await v.fire("Down", "storefront")
    await v.run_for(12)
    await v.fire("Down", "catalog", status="resolved")
    await v.fire("Down", "storefront", status="resolved")
    await v.run_for(5)
    await v.fire("Down", "storefront")  # the symptom first, again
    await v.fire("Down", "payments")
    await v.run_for(15)
    assert sorted(a["service"] for a in await v.actions()) == ["catalog", "payments"]
    assert v.actuators["storefront"].restarts == []


async def test_the_root_failing_again_inside_a_held_open_incident_is_a_new_episode(vigil_with: Any) -> None:
    """payments is fixed; its incident is held open; payments fails again: a second action (key `#1`),
    within the guard rails, and never a second one while the same failure fires on."""
    v = await vigil_with(RESTART_ANY, incidents=", resolve_after: 300s",
                         extra="remediation: {guards: {cooldown: 20s}}\n")
    await v.fire("Down", "payments")
    await v.run_for(20, errors={"payments": 0.0})
    await v.fire("Down", "payments", status="resolved")
    await v.run_for(2, errors={"payments": 0.0})
    await v.fire("Down", "payments")  # the same alert again, the incident still open
    await v.run_for(40, errors={"payments": 0.0})
    found = sorted(await v.actions(), key=lambda a: a["id"])
    assert [(a["service"], a["state"]) for a in found] == [("payments", "succeeded"), ("payments", "succeeded")]
    assert found[1]["key"] == found[0]["key"] + "#1" and found[0]["incident"] == found[1]["incident"]
    assert len(v.actuators["payments"].restarts) == 2
    refusals = [d for d in v.engine.store.decisions(kind="remediate") if d.rule == "cooldown"]
    assert len(refusals) == 1  # the second failure waited out the cooldown, recorded once


async def test_shadow_mode_records_what_it_would_do_and_does_nothing(vigil_with: Any) -> None:
    v = await vigil_with(RESTART.replace("mode: active", "mode: shadow"))
    await v.fire("PaymentsDown", "payments")
    await v.run_for(30)
    assert await v.actions() == [] and v.actuators["payments"].restarts == []
    [d] = v.engine.store.decisions(kind="remediate", subject="payments")
    assert d.rule == "shadow" and d.result["would_run"] == ["restart", "notify"]


async def test_approval_pending_in_the_api_then_approved_with_who(vigil_with: Any) -> None:
    v = await vigil_with(RESTART.replace("    rollback:", "    guards: {approval: true}\n    rollback:"))
    await v.fire("PaymentsDown", "payments")
    await v.run_for(12)
    [pending] = await v.actions("pending")
    assert pending["expires_at"] == pending["created_at"] + 1800
    assert v.actuators["payments"].restarts == []
    r = await v.client.post(f"/api/v1/actions/{pending['id']}/approve", json={"by": "Alice Smith"})
    assert r.status_code == 200, r.text
    assert r.json()["decided_by"] == "Alice Smith (key alice)"
    await v.run_for(2)
    assert v.actuators["payments"].restarts == [(1, 1)]
    again = await v.client.post(f"/api/v1/actions/{pending['id']}/deny", json={})
    assert again.status_code == 409 and "not pending" in again.json()["detail"]
    assert (await v.client.post("/api/v1/actions/99/approve")).status_code == 404


async def test_a_pending_approval_expires(vigil_with: Any) -> None:
    v = await vigil_with(RESTART.replace("    rollback:", "    guards: {approval: true}\n    rollback:"),
                         extra="remediation: {approval_expiry: 60s}\n")
    await v.fire("PaymentsDown", "payments")
    await v.run_for(75)
    [gone] = await v.actions()
    assert gone["state"] == "expired" and v.actuators["payments"].restarts == []


async def test_the_kill_switch_stops_every_automatic_action(vigil_with: Any) -> None:
    v = await vigil_with(RESTART, paused=True)
    await v.fire("PaymentsDown", "payments")
    await v.run_for(30)
    assert await v.actions() == [] and v.actuators["payments"].restarts == []
    [refused] = v.engine.store.decisions(kind="remediate", subject="payments")
    assert refused.rule == "paused"
    v.switch.paused = False
    await v.run_for(2)
    [action] = await v.actions()
    assert action["state"] == "verifying"


async def test_runbooks_are_listed_in_the_api(vigil_with: Any) -> None:
    v = await vigil_with(RESTART)
    [rb] = (await v.client.get("/api/v1/runbooks")).json()["runbooks"]
    assert rb["name"] == "restart-payments" and rb["steps"] == ["restart", "notify"] and rb["rollback"] == ["scale"]
    assert rb["guards"]["max_attempts"] == 3 and rb["guards"]["window"] == 3600
    assert rb["trigger"]["for"] == 10


async def test_pausing_mid_action_stops_before_the_next_step_and_escalates(vigil_with: Any) -> None:
    v = await vigil_with(RESTART.replace("      - {action: notify", "      - {action: wait, duration: 20s}\n"
                                         "      - {action: notify"))
    await v.fire("PaymentsDown", "payments")
    await v.run_for(13)  # the restart ran; the wait is under way
    v.switch.paused = True
    await v.run_for(25)
    [action] = await v.actions()
    assert action["state"] == "escalated"
    assert [s["kind"] for s in action["steps"]] == ["restart", "wait"]  # notify never started
    assert "not started, automation paused" in " ".join(action["story"])


async def test_a_pending_approval_ends_when_its_incident_resolves_first(vigil_with: Any) -> None:
    v = await vigil_with(RESTART.replace("    rollback:", "    guards: {approval: true}\n    rollback:"))
    await v.fire("PaymentsDown", "payments")
    await v.run_for(12)
    [pending] = await v.actions("pending")
    await v.fire("PaymentsDown", "payments", status="resolved")
    await v.run_for(2)
    [gone] = await v.actions()
    assert gone["state"] == "expired" and "resolved before" in gone["outcome"]
    r = await v.client.post(f"/api/v1/actions/{pending['id']}/approve", json={})
    assert r.status_code == 409 and v.actuators["payments"].restarts == []
