"""`kubernetes`: a Deployment's or StatefulSet's scale subresource, through the official client.

Reads and patches `.../{deployments|statefulsets}/NAME/scale` and observes `status.readyReplicas` of the
workload; restarts by a new `restartedAt` annotation on the pod template; rolls a Deployment back to
its previous ReplicaSet's template (`kubectl rollout undo`). Credentials: an explicit kubeconfig (and
context), else in-cluster service account, else ~/.kube/config. The client is synchronous (urllib3),
so calls run in a worker thread.

Tested against an in-process fake of those endpoints served by a real local HTTP server
(`vigil.testing.FakeKubeApi`, which models ReplicaSets and revisions as the Deployment controller
keeps them); it has not been run against a real cluster here (none can run on the build machines).
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

from vigil.act.actuators.base import ActuationError, ActuatorBase, ScaleResult
from vigil.config.scaling import KubernetesActuatorConfig

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}  # 409: conflict on a stale resourceVersion
REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
# The Deployment's own bookkeeping: kept on a rollback, not taken from the ReplicaSet (kubectl's list).
NOT_COPIED = frozenset({"kubectl.kubernetes.io/last-applied-configuration", REVISION,
                        "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
                        "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to"})


def _api_client(cfg: KubernetesActuatorConfig) -> Any:
    from kubernetes import client
    from kubernetes import config as kconfig

    conf = client.Configuration()
    if cfg.kubeconfig:
        kconfig.load_kube_config(config_file=cfg.kubeconfig, context=cfg.context, client_configuration=conf)
    else:
        try:
            kconfig.load_incluster_config(client_configuration=conf)
        except kconfig.ConfigException:
            kconfig.load_kube_config(context=cfg.context, client_configuration=conf)
    return client.ApiClient(conf)


def previous_revision(replicasets: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, int]:
    """The ReplicaSet of the second-highest revision, and that revision (kubectl's deploymentRevision
    with toRevision 0); (None, -1) without one."""
    latest, previous = -1, -1
    latest_rs: dict[str, Any] | None = None
    previous_rs: dict[str, Any] | None = None
    for rs in replicasets:
        try:
            v = int(((rs.get("metadata") or {}).get("annotations") or {})[REVISION])
        except (KeyError, ValueError):
            continue
        if v > latest:
            previous, previous_rs, latest, latest_rs = latest, latest_rs, v, rs
        elif v > previous:
            previous, previous_rs = v, rs
    return previous_rs, previous


def _unhashed(template: dict[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(template)
    ((t.get("metadata") or {}).get("labels") or {}).pop(HASH_LABEL, None)
    return t


class KubernetesActuator(ActuatorBase):
    kind = "kubernetes"

    def __init__(self, config: KubernetesActuatorConfig, service: str = "", api_client: Any = None) -> None:
        from kubernetes import client

        self.config = config
        self.service = service
        self.rolled_back_to: int | None = None  # the revision the last rollback_version restored
        self._client = api_client or _api_client(config)
        self._apps = client.AppsV1Api(self._client)
        suffix = "deployment" if config.target == "Deployment" else "stateful_set"
        self._read_scale = getattr(self._apps, f"read_namespaced_{suffix}_scale")
        self._patch_scale = getattr(self._apps, f"patch_namespaced_{suffix}_scale")
        self._read = getattr(self._apps, f"read_namespaced_{suffix}")
        self._patch = getattr(self._apps, f"patch_namespaced_{suffix}")

    async def scale(self, replicas: int, dry_run: bool = False) -> ScaleResult:
        scale = await self._call(self._read_scale, self.config.name, self.config.namespace)
        before = int(scale.spec.replicas or 0)
        if replicas == before:
            return ScaleResult(before, replicas, False, dry_run, "already at this count")
        if dry_run:
            # Server-side dry run: the API server validates the patch and persists nothing.
            await self._call(self._patch_scale, self.config.name, self.config.namespace,
                             {"spec": {"replicas": replicas}}, dry_run="All")
            return ScaleResult(before, replicas, False, True, "server-side dry run accepted")
        await self._call(self._patch_scale, self.config.name, self.config.namespace,
                         {"spec": {"replicas": replicas}})
        return ScaleResult(before, replicas, True)

    async def ready_replicas(self) -> int:
        obj = await self._call(self._read, self.config.name, self.config.namespace)
        return int(getattr(obj.status, "ready_replicas", None) or 0)

    async def restart(self, replicas: int | None = None, at_once: int = 1) -> int:
        """A rollout restart, as `kubectl rollout restart` does it: a new `restartedAt` annotation on the
        pod template, so the controller replaces every pod under the workload's own update strategy
        (maxUnavailable / maxSurge decide how many at once; `replicas` and `at_once` cannot narrow it)."""
        import datetime

        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
        await self._call(self._patch, self.config.name, self.config.namespace, patch)
        scale = await self._call(self._read_scale, self.config.name, self.config.namespace)
        return int(scale.spec.replicas or 0)

    async def rollback_version(self) -> int:
        """Back to the previous revision, as `kubectl rollout undo` does it: of the ReplicaSets the
        Deployment owns, the one with the second-highest `deployment.kubernetes.io/revision`; its pod
        template (without its `pod-template-hash` label) and its annotations (but the Deployment's own
        revision bookkeeping) are written back with a JSON Patch. The controller then rolls the pods
        over under the Deployment's update strategy. Returns the replicas that will be replaced."""
        if self.config.target != "Deployment":
            raise ActuationError("rollback_version needs a Deployment (a StatefulSet's history is in "
                                 "ControllerRevisions, which this actuator does not read)", retryable=False)
        name, ns = self.config.name, self.config.namespace
        deployment = await self._raw(self._read, name, ns)
        if (deployment.get("spec") or {}).get("paused"):
            raise ActuationError(f"deployment {name} is paused: resume it before rolling back", retryable=False)
        labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        listed = await self._raw(self._apps.list_namespaced_replica_set, ns, label_selector=selector)
        uid = (deployment.get("metadata") or {}).get("uid")
        owned = [rs for rs in listed.get("items") or []
                 if any(ref.get("controller") and ref.get("uid") == uid
                        for ref in (rs.get("metadata") or {}).get("ownerReferences") or [])]
        previous, revision = previous_revision(owned)
        if previous is None:
            raise ActuationError(f"no rollout history found for deployment {name}", retryable=False)
        template = copy.deepcopy(previous["spec"]["template"])
        ((template.get("metadata") or {}).get("labels") or {}).pop(HASH_LABEL, None)
        if template == _unhashed(deployment["spec"]["template"]):
            raise ActuationError(f"deployment {name} already runs revision {revision}'s template: nothing to roll "
                                 "back to", retryable=False)
        kept = {k: v for k, v in ((deployment.get("metadata") or {}).get("annotations") or {}).items()
                if k in NOT_COPIED}
        restored = {k: v for k, v in ((previous.get("metadata") or {}).get("annotations") or {}).items()
                    if k not in NOT_COPIED}
        patch = [{"op": "replace", "path": "/spec/template", "value": template},
                 {"op": "replace", "path": "/metadata/annotations", "value": {**kept, **restored}}]
        await self._call(self._patch, name, ns, patch)
        self.rolled_back_to = revision
        return int((deployment.get("spec") or {}).get("replicas") or 0)

    async def _raw(self, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The API's JSON as it came (a template is written back exactly as it was read)."""
        response = await self._call(fn, *args, _preload_content=False, **kwargs)
        return dict(json.loads(response.data))

    async def close(self) -> None:
        self._client.close()

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return await asyncio.to_thread(fn, *args, _request_timeout=10, **kwargs)
        except ApiException as exc:
            retry = exc.status in RETRYABLE_STATUS
            raise ActuationError(f"kubernetes API {exc.status} {exc.reason}", retryable=retry) from None
        except (HTTPError, OSError) as exc:
            raise ActuationError(f"kubernetes API unreachable: {type(exc).__name__}",
                                 retryable=True) from None
