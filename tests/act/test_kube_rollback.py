"""The kubernetes actuator's version rollback, through the official client against the fake of the API
(`vigil.testing.FakeKubeApi`, a real loopback server; no cluster can run here): it goes back to the
previous ReplicaSet's template as `kubectl rollout undo` does, and the fake's controller records it
as a new revision of that ReplicaSet. Also the fake itself: ReplicaSets and revisions as the
Deployment controller keeps them, patches by their media type."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.act.test_actuators import _kubeconfig
from vigil.act.actuators import build_actuator
from vigil.act.actuators.base import ActuationError
from vigil.act.actuators.fake_kube import HASH_LABEL, HISTORY, REVISION
from vigil.config.scaling import KubernetesActuatorConfig
from vigil.heal.actions import ActionContext, run_step
from vigil.heal.actions.params import RestartParams, RollbackVersionParams
from vigil.heal.windows import MaintenanceBook
from vigil.model import Health
from vigil.testing import FakeClock, FakeKubeApi


def actuator(tmp_path: Path, api: FakeKubeApi, target: str = "Deployment", name: str = "web") -> Any:
    return build_actuator(KubernetesActuatorConfig(kind="kubernetes", name=name, target=target,
                                                   kubeconfig=_kubeconfig(tmp_path, api.url)), name)


def ctx(act: Any) -> ActionContext:
    return ActionContext("web", FakeClock(), act, lambda s: Health.HEALTHY, lambda s: None, 50.0,
                         MaintenanceBook(None, None))


def _patch(api: FakeKubeApi, path: str, body: Any, content_type: str) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(api.url + path, json.dumps(body).encode(), method="PATCH",
                                 headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_fake_keeps_a_replicaset_per_template_with_revisions_as_the_controller_does() -> None:
    with FakeKubeApi() as api:
        api.add("web", 3)
        [first] = api.owned("web")
        assert first["metadata"]["annotations"][REVISION] == "1" and api.revision("web") == 1
        assert first["spec"]["template"]["metadata"]["labels"][HASH_LABEL] == first["metadata"]["labels"][HASH_LABEL]
        api.set_image("web", "example/app:2", cause="deploy 2")
        assert [(rs["metadata"]["annotations"][REVISION], rs["spec"]["replicas"]) for rs in api.owned("web")] == [
            ("1", 0), ("2", 3)]
        assert api.owned("web")[1]["metadata"]["annotations"]["kubernetes.io/change-cause"] == "deploy 2"
        api.set_image("web", "example/app:1")  # an old template again: its ReplicaSet takes the next revision
        old = api.owned("web")[-1]
        assert old["metadata"]["uid"] == first["metadata"]["uid"] and old["metadata"]["annotations"][REVISION] == "3"
        assert old["metadata"]["annotations"][HISTORY] == "1" and api.revision("web") == 3
        path = "/apis/apps/v1/namespaces/default/deployments/web"
        assert _patch(api, path, {"spec": {}}, "application/json-patch+json")[0] == 400  # not a list of operations
        assert _patch(api, path, [{"op": "replace", "path": "/spec/paused", "value": True}],
                      "application/merge-patch+json")[0] == 400
        assert _patch(api, path, {"spec": {}}, "text/plain")[0] == 415
        code, doc = _patch(api, path, [{"op": "add", "path": "/spec/paused", "value": True}],
                           "application/json-patch+json")
        assert code == 200 and doc["spec"]["paused"] is True and len(api.owned("web")) == 2  # not the template


@pytest.mark.timeout(60)
async def test_rollback_version_goes_back_to_the_previous_replicaset_template(tmp_path: Path) -> None:
    with FakeKubeApi() as api:
        api.add("web", 3)
        api.set_image("web", "example/app:2", cause="deploy 2")
        assert api.revision("web") == 2
        act = actuator(tmp_path, api)
        try:
            out = await run_step(RollbackVersionParams(action="rollback_version"), ctx(act))
            assert out.ok, out.detail
            assert act.rolled_back_to == 1 and out.result == {"restarted": 3}
            assert api.image("web") == "example/app:1" and api.revision("web") == 3  # undo is a new revision
            template = api.objects[("default", "deployments", "web")]["spec"]["template"]
            assert HASH_LABEL not in template["metadata"]["labels"]  # the hash label is not copied back
            [method, patch] = api.patch_types[-1], api.patches[-1]
            assert method == "application/json-patch+json"
            assert [op["path"] for op in patch] == ["/spec/template", "/metadata/annotations"]
            notes = api.objects[("default", "deployments", "web")]["metadata"]["annotations"]
            assert "kubernetes.io/change-cause" not in notes  # revision 1 had none: its annotations come back
            # And again: undo of the undo goes back to the image of revision 2, as kubectl's would.
            out = await run_step(RollbackVersionParams(action="rollback_version"), ctx(act))
            assert out.ok and act.rolled_back_to == 2 and api.image("web") == "example/app:2"
            assert notes != api.objects[("default", "deployments", "web")]["metadata"]["annotations"]
        finally:
            await act.close()


@pytest.mark.timeout(60)
async def test_a_rollout_restart_is_a_new_revision_so_undo_after_it_changes_nothing_of_the_image(
        tmp_path: Path) -> None:
    """A restart (new restartedAt annotation) is a template change: the controller makes a revision of it."""
    with FakeKubeApi() as api:
        api.add("web", 2)
        act = actuator(tmp_path, api)
        try:
            assert (await run_step(RestartParams(action="restart"), ctx(act))).ok
            assert api.revision("web") == 2 and len(api.owned("web")) == 2
            assert (await run_step(RollbackVersionParams(action="rollback_version"), ctx(act))).ok
            tpl = api.objects[("default", "deployments", "web")]["spec"]["template"]
            assert "annotations" not in tpl["metadata"] and api.image("web") == "example/app:1"
        finally:
            await act.close()


@pytest.mark.timeout(60)
async def test_rollback_is_refused_with_why_when_it_cannot_be_done(tmp_path: Path) -> None:
    with FakeKubeApi() as api:
        api.add("web", 2)
        api.add("db", 1, plural="statefulsets")
        act, sts = actuator(tmp_path, api), actuator(tmp_path, api, "StatefulSet", "db")
        try:
            with pytest.raises(ActuationError, match="no rollout history found for deployment web"):
                await act.rollback_version()  # one revision only
            api.set_image("web", "example/app:2")
            api.objects[("default", "deployments", "web")]["spec"]["paused"] = True
            with pytest.raises(ActuationError, match="paused"):
                await act.rollback_version()
            api.objects[("default", "deployments", "web")]["spec"]["paused"] = False
            api.fail = [503]
            with pytest.raises(ActuationError) as err:
                await act.rollback_version()
            assert err.value.retryable and api.image("web") == "example/app:2"  # nothing changed
            with pytest.raises(ActuationError, match="StatefulSet"):
                await sts.rollback_version()
            out = await run_step(RollbackVersionParams(action="rollback_version"), ctx(act))
            assert out.ok and api.image("web") == "example/app:1"
        finally:
            await act.close()
            await sts.close()


@pytest.mark.timeout(60)
async def test_only_replicasets_the_deployment_owns_count(tmp_path: Path) -> None:
    """A ReplicaSet with matching labels but another owner (or none) is not history of this Deployment."""
    with FakeKubeApi() as api:
        api.add("web", 2)
        api.set_image("web", "example/app:2")
        stray = json.loads(json.dumps(api.owned("web")[0]))
        stray["metadata"].update(name="web-stray", uid="other", ownerReferences=[])
        stray["metadata"]["annotations"][REVISION] = "9"
        stray["spec"]["template"]["spec"]["containers"][0]["image"] = "evil/app:9"
        api.replicasets["default"].append(stray)
        act = actuator(tmp_path, api)
        try:
            await act.rollback_version()
        finally:
            await act.close()
        assert api.image("web") == "example/app:1"
