"""A runbook's whole story in the engine's own hash-chained audit log, read back through the API: the
match, the approval with who approved it, each step with its parameters (secrets masked), outcome and
duration, the verification's result, the end; a denial with who denied it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.heal.conftest import Vigil
from tests.heal.test_remediate_timeline import RESTART
from tests.notify.receivers import HttpReceiver
from vigil.audit.chain import first_break

SECRET = "Bearer audit-s3cret-token"
APPROVED = RESTART.replace("      - {action: notify", "      - {action: http, url: \"URL/{service}/flush\", "
                           f"headers: {{Authorization: \"{SECRET}\"}}}}\n      - {{action: notify") \
    + "    guards: {approval: true}\n"


@pytest.fixture
async def endpoint() -> AsyncIterator[HttpReceiver]:
    rx = await HttpReceiver().start()
    yield rx
    await rx.stop()


async def _audit(v: Vigil, **params: Any) -> list[dict[str, Any]]:
    await v.engine.audit.flush()
    r = await v.client.get("/api/v1/audit", params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["records"]))  # oldest first


@pytest.mark.timeout(60)
async def test_every_step_the_verification_and_the_approval_are_audited(vigil_with: Any,
                                                                         endpoint: HttpReceiver) -> None:
    v: Vigil = await vigil_with(APPROVED.replace("URL", endpoint.url), real_audit=True)
    await v.fire("PaymentsDown", "payments")
    await v.run_for(12)
    [pending] = await v.actions("pending")
    r = await v.client.post(f"/api/v1/actions/{pending['id']}/approve", json={"by": "Alice Smith"})
    assert r.status_code == 200, r.text
    await v.run_for(30, errors={"payments": 0.01})
    [action] = await v.actions()
    assert action["state"] == "succeeded", action["story"]
    records = await _audit(v, incident=1)
    mine = [r for r in records if r["action"].startswith(("remediate.", "action."))]
    assert [r["action"] for r in mine] == [
        "remediate.matched", "action.approved", "action.running", "action.step.succeeded",
        "action.step.succeeded", "action.step.succeeded", "action.verifying", "action.verification",
        "action.succeeded"]
    approved = mine[1]
    assert approved["actor"] == "key:alice" and approved["inputs"]["by"] == "Alice Smith"
    assert "approved by Alice Smith (key alice)" in approved["reason"]
    restart, http, notify = mine[3:6]
    assert restart["inputs"]["step"] == {"action": "restart", "replicas": 1, "command": None, "timeout": 60.0}
    assert restart["result"]["state"] == "succeeded" and "restarted 1 of 2" in restart["result"]["detail"]
    assert http["inputs"]["step"]["url"] == endpoint.url + "/{service}/flush"
    assert "audit-s3cret-token" not in str(records)  # the step's header is a secret: never in the log
    assert [r.path for r in endpoint.requests] == ["/payments/flush"]
    assert endpoint.requests[0].headers["Authorization"] == SECRET  # ...yet it was sent
    assert notify["inputs"]["step"]["message"] == "restarted {service}"
    assert all(s["duration_s"] >= 0 and s["service"] == "payments" for s in mine)
    verification = mine[7]
    assert verification["result"]["held"] is True and "errors" in verification["result"]["seen"]
    assert verification["inputs"]["verify"]["for"] == 20.0 and verification["duration_s"] >= 20.0
    chain = list(reversed(v.engine.audit.records(limit=10_000)))
    assert len(chain) >= len(mine) and first_break(chain) == (len(chain), None)  # the chain is intact


@pytest.mark.timeout(60)
async def test_a_denial_is_audited_with_who_denied_it(vigil_with: Any, endpoint: HttpReceiver) -> None:
    v: Vigil = await vigil_with(APPROVED.replace("URL", endpoint.url), real_audit=True)
    await v.fire("PaymentsDown", "payments")
    await v.run_for(12)
    [pending] = await v.actions("pending")
    r = await v.client.post(f"/api/v1/actions/{pending['id']}/deny")
    assert r.status_code == 200, r.text
    await v.run_for(5)
    denied = [r for r in await _audit(v, action="action.denied")]
    assert [(r["actor"], r["result"]["state"]) for r in denied] == [("key:alice", "denied")]
    assert await _audit(v, action="action.running") == [] and endpoint.requests == []
