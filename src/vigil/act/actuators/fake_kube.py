"""A fake of the few Kubernetes API endpoints the `kubernetes` actuator uses, served by a real HTTP
server on a free loopback port (no cluster can run on the build machines), for the official client
to talk to as it would to an API server:

- `GET`/`PATCH` `apis/apps/v1/namespaces/NS/{deployments|statefulsets}/NAME[/scale]`, PATCH bodies
  by their Content-Type as the API server takes them: a JSON Patch (`application/json-patch+json`, a
  list of operations), a JSON merge patch or a strategic merge patch (an object; lists of containers,
  env, ports and volumes merge by name, other lists are replaced); anything else is refused;
- `GET apis/apps/v1/namespaces/NS/replicasets?labelSelector=k=v,...`.

Deployments are modelled as the Deployment controller keeps them: each pod template a Deployment has
run is a ReplicaSet it owns (`ownerReferences`, controller), labelled with its `pod-template-hash`,
with a `deployment.kubernetes.io/revision` annotation. A change of the template makes a new
ReplicaSet with the next revision, or, when an old ReplicaSet already has that template (a rollback),
gives that one the next revision (its old one noted in `deployment.kubernetes.io/revision-history`);
the Deployment's own revision annotation follows, the newest ReplicaSet gets the replicas, the others
none, and the ready count starts again (the pods are replaced). Rollouts complete at once."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REVISION = "deployment.kubernetes.io/revision"
HISTORY = "deployment.kubernetes.io/revision-history"
HASH_LABEL = "pod-template-hash"
# Annotations of the Deployment the controller does not copy to its ReplicaSets (nor kubectl back).
NOT_COPIED = {"kubectl.kubernetes.io/last-applied-configuration", REVISION, HISTORY,
              "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas",
              "deprecated.deployment.rollback.to"}
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "ports": "containerPort",
              "volumes": "name", "volumeMounts": "mountPath"}
JSON_PATCH, MERGE_PATCH, STRATEGIC = ("application/json-patch+json", "application/merge-patch+json",
                                      "application/strategic-merge-patch+json")
_APPS = "/apis/apps/v1/namespaces/"


class PatchError(ValueError):
    """A patch the API server would refuse (400)."""


def _strategic(target: Any, patch: Any, key: str = "") -> Any:
    if isinstance(patch, dict) and isinstance(target, dict):
        out = dict(target)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = _strategic(out.get(k), v, k)
        return out
    if isinstance(patch, list) and isinstance(target, list) and key in MERGE_KEYS:
        by = MERGE_KEYS[key]
        merged = [dict(t) for t in target]
        for item in patch:
            at = next((i for i, t in enumerate(merged) if t.get(by) == item.get(by)), None)
            if at is None:
                merged.append(item)
            else:
                merged[at] = _strategic(merged[at], item)
        return merged
    return copy.deepcopy(patch)


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(out.get(k), v)
    return out


def _json_patch(doc: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    """RFC 6902 add, replace and remove (what kubectl rollout undo sends)."""
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or op.get("op") not in ("add", "replace", "remove") or "path" not in op:
            raise PatchError(f"unsupported JSON Patch operation {op!r}")
        parts = [p.replace("~1", "/").replace("~0", "~") for p in str(op["path"]).split("/")[1:]]
        if not parts:
            raise PatchError("a JSON Patch path must name a field")
        parent: Any = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent.setdefault(p, {})
        last = parts[-1]
        if op["op"] == "remove":
            if last not in parent:
                raise PatchError(f"remove of {op['path']}: no such field")
            del parent[last]
        elif op["op"] == "replace" and last not in parent:
            raise PatchError(f"replace of {op['path']}: no such field")
        else:
            parent[last] = copy.deepcopy(op.get("value"))
    return doc


def apply_patch(doc: dict[str, Any], content_type: str, body: Any) -> dict[str, Any]:
    kind = content_type.split(";")[0].strip()
    if kind == JSON_PATCH:
        if not isinstance(body, list):
            raise PatchError("a JSON Patch is a list of operations")
        return _json_patch(doc, body)
    if kind in (MERGE_PATCH, STRATEGIC):
        if not isinstance(body, dict):
            raise PatchError(f"a {kind} body is an object")
        return _strategic(doc, body) if kind == STRATEGIC else _merge(doc, body)
    raise LookupError(kind)


def without_hash(template: dict[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(template)
    (t.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    return t


def template_hash(template: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(without_hash(template), sort_keys=True).encode()).hexdigest()[:10]


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True


class JsonHandler(BaseHTTPRequestHandler):
    """Quiet request handler that answers JSON."""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def reply(self, code: int, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FakeKubeApi:
    """Workloads keyed by (namespace, plural, name). Ready replicas catch up with spec after
    `ready_after` reads of the workload. `fail` holds status codes to answer the next requests with.
    `requests` is every (method, path); `patches` the bodies of PATCHes of the workloads themselves."""

    def __init__(self, ready_after: int = 1) -> None:
        self.workloads: dict[tuple[str, str, str], dict[str, int]] = {}
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # metadata and spec (not replicas)
        self.replicasets: dict[str, list[dict[str, Any]]] = {}  # namespace -> ReplicaSets
        self.ready_after = ready_after
        self.fail: list[int] = []
        self.requests: list[tuple[str, str]] = []
        self.patches: list[Any] = []
        self.patch_types: list[str] = []
        self.lock = threading.Lock()
        api = self

        class Handler(JsonHandler):
            def _route(self, method: str) -> None:
                n = int(self.headers.get("Content-Length", "0") or 0)
                raw = self.rfile.read(n) if n else b""
                with api.lock:
                    api.requests.append((method, self.path))
                    code, doc = api.handle(method, self.path, self.headers.get("Content-Type", ""), raw)
                self.reply(code, doc)

            def do_GET(self) -> None:  # noqa: N802
                self._route("GET")

            def do_PATCH(self) -> None:  # noqa: N802
                self._route("PATCH")

        self.server = LoopbackServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    # ------------------------------------------------------------------------------ what tests set up

    def add(self, name: str, replicas: int, namespace: str = "default", plural: str = "deployments",
            image: str = "example/app:1") -> None:
        with self.lock:
            self._add((namespace, plural, name), replicas, image)

    def _add(self, key: tuple[str, str, str], replicas: int, image: str) -> None:
        namespace, plural, name = key
        self.workloads[key] = {"replicas": replicas, "ready": replicas, "reads": 0}
        spec: dict[str, Any] = {"selector": {"matchLabels": {"app": name}},
                                "template": {"metadata": {"labels": {"app": name}},
                                             "spec": {"containers": [{"name": "app", "image": image}]}}}
        if plural == "statefulsets":
            spec["serviceName"] = name
        self.objects[key] = {"metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()),
                                          "generation": 1, "resourceVersion": "1", "annotations": {}},
                             "spec": spec}
        if plural == "deployments":
            self._sync(key)
            self.workloads[key]["ready"] = replicas

    def set_image(self, name: str, image: str, namespace: str = "default", cause: str | None = None) -> None:
        """A new version, as `kubectl set image` (and `kubernetes.io/change-cause`) would make it."""
        with self.lock:
            key = (namespace, "deployments", name)
            obj = self.objects[key]
            patch: dict[str, Any] = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
            if cause is not None:
                patch["metadata"] = {"annotations": {"kubernetes.io/change-cause": cause}}
            self._replace(key, _strategic(obj, patch))

    def revision(self, name: str, namespace: str = "default") -> int:
        return int(self.objects[(namespace, "deployments", name)]["metadata"]["annotations"][REVISION])

    def image(self, name: str, namespace: str = "default", plural: str = "deployments") -> str:
        return str(self.objects[(namespace, plural, name)]["spec"]["template"]["spec"]["containers"][0]["image"])

    def owned(self, name: str, namespace: str = "default") -> list[dict[str, Any]]:
        """The ReplicaSets of a Deployment, oldest revision first."""
        obj = self.objects[(namespace, "deployments", name)]
        mine = [rs for rs in self.replicasets.get(namespace, []) if _owner_uid(rs) == obj["metadata"]["uid"]]
        return sorted(mine, key=_revision)

    # ------------------------------------------------------------------------------ the API server

    def handle(self, method: str, path_qs: str, content_type: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        if self.fail:
            return _status(self.fail.pop(0), "Injected")
        path, _, query = path_qs.partition("?")
        if not path.startswith(_APPS):
            return _status(404, "NotFound")
        parts = path[len(_APPS):].split("/")
        if len(parts) == 2 and parts[1] == "replicasets" and method == "GET":
            return self._list_replicasets(parts[0], query)
        if len(parts) not in (3, 4) or parts[1] not in ("deployments", "statefulsets"):
            return _status(404, "NotFound")
        key = (parts[0], parts[1], parts[2])
        if key not in self.workloads or (len(parts) == 4 and parts[3] != "scale"):
            return _status(404, "NotFound")
        body: Any = None
        if method == "PATCH":
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                return _status(400, "BadRequest", "the body is not JSON")
        if len(parts) == 4:
            return self._scale(key, method, content_type, body, "dryRun=All" in query)
        return self._workload(key, method, content_type, body)

    def _scale(self, key: tuple[str, str, str], method: str, content_type: str, body: Any,
               dry_run: bool) -> tuple[int, dict[str, Any]]:
        w = self.workloads[key]
        if method == "PATCH":
            try:
                patched = apply_patch(self.scale_doc(key, w["replicas"]), content_type, body)
                replicas = int(patched["spec"]["replicas"])
            except LookupError:
                return _status(415, "UnsupportedMediaType", f"the body of the request was in an unknown format "
                                                            f"- accepted media types include: {JSON_PATCH}, ...")
            except (PatchError, KeyError, TypeError, ValueError) as exc:
                return _status(400, "BadRequest", str(exc))
            if not dry_run:
                w["replicas"], w["reads"] = replicas, 0
                w["ready"] = min(w["ready"], replicas)
                for rs in self._newest(key):
                    rs["spec"]["replicas"] = replicas
            return 200, self.scale_doc(key, replicas)
        return 200, self.scale_doc(key, w["replicas"])

    def _workload(self, key: tuple[str, str, str], method: str, content_type: str,
                  body: Any) -> tuple[int, dict[str, Any]]:
        w = self.workloads[key]
        if method == "PATCH":
            self.patches.append(body)
            self.patch_types.append(content_type)
            try:
                patched = apply_patch(self.workload_doc(key), content_type, body)
            except LookupError:
                return _status(415, "UnsupportedMediaType", "the body of the request was in an unknown format")
            except PatchError as exc:
                return _status(400, "BadRequest", str(exc))
            w["replicas"] = int((patched.get("spec") or {}).get("replicas", w["replicas"]))
            self._replace(key, {"metadata": patched.get("metadata") or {}, "spec": patched.get("spec") or {}})
        w["reads"] += 1
        if w["reads"] >= self.ready_after:
            w["ready"] = w["replicas"]
        return 200, self.workload_doc(key)

    def _list_replicasets(self, namespace: str, query: str) -> tuple[int, dict[str, Any]]:
        wanted: dict[str, str] = {}
        for arg in query.split("&"):
            name, _, value = arg.partition("=")
            if name != "labelSelector" or not value:
                continue
            from urllib.parse import unquote

            for term in unquote(value).split(","):
                k, sep, v = term.partition("=")
                if not sep or not k or "!" in k:
                    return _status(400, "BadRequest", f"unable to parse requirement: {term!r}")
                wanted[k.strip()] = v.lstrip("=").strip()
        items = [rs for rs in self.replicasets.get(namespace, [])
                 if all(rs["metadata"]["labels"].get(k) == v for k, v in wanted.items())]
        return 200, {"apiVersion": "apps/v1", "kind": "ReplicaSetList", "metadata": {"resourceVersion": "1"},
                     "items": copy.deepcopy(items)}

    # ------------------------------------------------------------------------------ the controller

    def _replace(self, key: tuple[str, str, str], new: dict[str, Any]) -> None:
        obj = self.objects[key]
        meta = {**obj["metadata"], **{k: v for k, v in (new.get("metadata") or {}).items()
                                      if k in ("annotations", "labels")}}
        meta["annotations"] = dict(meta.get("annotations") or {})
        spec = {k: v for k, v in (new.get("spec") or {}).items() if k != "replicas"}
        changed_template = spec.get("template") != obj["spec"].get("template")
        if spec != obj["spec"]:
            meta["generation"] = int(meta["generation"]) + 1
        meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
        self.objects[key] = {"metadata": meta, "spec": spec}
        if key[1] == "deployments" and changed_template:
            self._sync(key)
        if changed_template:  # the pods are replaced
            self.workloads[key]["ready"], self.workloads[key]["reads"] = 0, 0

    def _sync(self, key: tuple[str, str, str]) -> None:
        """What the Deployment controller does when the template changed (rollout done at once)."""
        obj, (ns, _, name) = self.objects[key], key
        template = obj["spec"]["template"]
        mine = self.owned(name, ns)
        top = max((_revision(rs) for rs in mine), default=0)
        current = next((rs for rs in mine if without_hash(rs["spec"]["template"]) == without_hash(template)), None)
        if current is None:
            h = template_hash(template)
            rs_template = copy.deepcopy(template)
            rs_template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
            labels = {**obj["spec"]["selector"]["matchLabels"], HASH_LABEL: h}
            current = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                       "metadata": {"name": f"{name}-{h}", "namespace": ns, "uid": str(uuid.uuid4()),
                                    "labels": labels, "annotations": {REVISION: str(top + 1)},
                                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                                         "uid": obj["metadata"]["uid"], "controller": True,
                                                         "blockOwnerDeletion": True}]},
                       "spec": {"replicas": 0, "selector": {"matchLabels": labels}, "template": rs_template}}
            self.replicasets.setdefault(ns, []).append(current)
        elif _revision(current) != top:
            old = str(_revision(current))
            notes = current["metadata"]["annotations"]
            notes[HISTORY] = ",".join(p for p in (notes.get(HISTORY, ""), old) if p)
            notes[REVISION] = str(top + 1)
        notes = current["metadata"]["annotations"]
        for k, v in obj["metadata"]["annotations"].items():  # change-cause and the like go with the template
            if k not in NOT_COPIED:
                notes[k] = v
        obj["metadata"]["annotations"][REVISION] = notes[REVISION]
        replicas = self.workloads[key]["replicas"]
        for rs in self.owned(name, ns):
            rs["spec"]["replicas"] = replicas if rs is current else 0

    def _newest(self, key: tuple[str, str, str]) -> list[dict[str, Any]]:
        if key[1] != "deployments":
            return []
        mine = self.owned(key[2], key[0])
        return mine[-1:]

    # ------------------------------------------------------------------------------ documents

    def scale_doc(self, key: tuple[str, str, str], replicas: int) -> dict[str, Any]:
        return {"apiVersion": "autoscaling/v1", "kind": "Scale",
                "metadata": {"name": key[2], "namespace": key[0]},
                "spec": {"replicas": replicas}, "status": {"replicas": self.workloads[key]["ready"]}}

    def workload_doc(self, key: tuple[str, str, str]) -> dict[str, Any]:
        w, obj = self.workloads[key], self.objects[key]
        kind = "Deployment" if key[1] == "deployments" else "StatefulSet"
        return {"apiVersion": "apps/v1", "kind": kind, "metadata": copy.deepcopy(obj["metadata"]),
                "spec": {"replicas": w["replicas"], **copy.deepcopy(obj["spec"])},
                "status": {"replicas": w["replicas"], "readyReplicas": w["ready"],
                           "observedGeneration": obj["metadata"]["generation"]}}

    def __enter__(self) -> FakeKubeApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def _revision(rs: dict[str, Any]) -> int:
    try:
        return int(rs["metadata"].get("annotations", {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _owner_uid(rs: dict[str, Any]) -> str | None:
    refs = rs["metadata"].get("ownerReferences") or []
    return next((r.get("uid") for r in refs if r.get("controller")), None)


def _status(code: int, reason: str, message: str = "") -> tuple[int, dict[str, Any]]:
    return code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
                  "message": message or reason}
