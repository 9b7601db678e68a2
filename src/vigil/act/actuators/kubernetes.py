"""`kubernetes`: a Deployment's or StatefulSet's scale subresource, through the official client.

Reads and patches `.../{deployments|statefulsets}/NAME/scale` and observes `status.readyReplicas` of the
workload. Credentials: an explicit kubeconfig (and context), else in-cluster service account, else
~/.kube/config. The client is synchronous (urllib3), so calls run in a worker thread.

Tested against an in-process fake of those endpoints served by a real local HTTP server; it has not
been run against a real cluster here (none can run on the build machines).
"""

from __future__ import annotations

import asyncio
from typing import Any

from vigil.act.actuators.base import ActuationError, ActuatorBase, ScaleResult
from vigil.config.scaling import KubernetesActuatorConfig

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}  # 409: conflict on a stale resourceVersion


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


class KubernetesActuator(ActuatorBase):
    kind = "kubernetes"

    def __init__(self, config: KubernetesActuatorConfig, service: str = "", api_client: Any = None) -> None:
        from kubernetes import client

        self.config = config
        self.service = service
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
