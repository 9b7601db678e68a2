"""An error spike after a bad deploy on Kubernetes, healed end to end: the real engine on a fake clock
runs a runbook whose `rollback_version` goes through the kubernetes actuator and the official client
to the fake of the API (`vigil.testing.FakeKubeApi`; no cluster can run here), which rolls the
Deployment back to the previous ReplicaSet's template; the errors fall and the action is verified."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.act.test_actuators import _kubeconfig
from tests.heal.conftest import Vigil
from vigil.act.actuators import build_actuator
from vigil.config.scaling import KubernetesActuatorConfig
from vigil.testing import FakeKubeApi

RUNBOOK = """
runbooks:
  - name: undo-bad-deploy
    mode: active
    trigger: {alertname: [ErrorsAfterDeploy], for: 5s}
    steps:
      - {action: rollback_version, timeout: 20s}
    verify: {probes_healthy: false, metric: {series: errors, max: 0.05}, for: 10s, within: 2m}
"""


@pytest.mark.timeout(90)
async def test_a_bad_deploy_is_rolled_back_to_the_previous_replicaset_and_verified(vigil_with: Any,
                                                                                   tmp_path: Path) -> None:
    with FakeKubeApi() as api:
        api.add("payments", 3, image="example/payments:1.4")
        api.set_image("payments", "example/payments:1.5", cause="release 1.5")  # the bad one
        made: list[Any] = []

        def kube() -> dict[str, Any]:
            made.append(build_actuator(KubernetesActuatorConfig(
                kind="kubernetes", name="payments", kubeconfig=_kubeconfig(tmp_path, api.url)), "payments"))
            return {"payments": made[-1]}
        v: Vigil = await vigil_with(RUNBOOK, actuators=kube)
        try:
            await v.fire("ErrorsAfterDeploy", "payments")
            state = ""
            for _ in range(120):  # simulated seconds; the API calls take real (loopback) time
                bad = api.image("payments").endswith(":1.5")
                await v.errors("payments", 0.3 if bad else 0.01)
                await v.clock.advance(1)
                await asyncio.sleep(0.01)
                actions = await v.actions()
                state = actions[0]["state"] if actions else ""
                if state in ("succeeded", "rolled_back", "escalated", "failed"):
                    break
            [action] = await v.actions()
            assert state == "succeeded", action["story"]
            [step] = action["steps"]
            assert step["kind"] == "rollback_version" and step["result"]["restarted"] == 3
            assert api.image("payments") == "example/payments:1.4" and api.revision("payments") == 3
            assert made[0].rolled_back_to == 1
            [undone] = [rs for rs in api.owned("payments") if rs["spec"]["replicas"] == 3]
            assert undone["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
        finally:
            for act in made:
                await act.close()
