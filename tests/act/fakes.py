"""Real local HTTP servers standing in for remote APIs: a fake of the few Kubernetes endpoints the
kubernetes actuator uses (scale subresource get/patch, workload get), and a webhook receiver."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_SCALE = re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/(deployments|statefulsets)/([^/]+)(/scale)?$")


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _JsonHandler(BaseHTTPRequestHandler):
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
    `ready_after` reads of the workload. `fail` holds status codes to answer the next requests with."""

    def __init__(self, ready_after: int = 1) -> None:
        self.workloads: dict[tuple[str, str, str], dict[str, int]] = {}
        self.ready_after = ready_after
        self.fail: list[int] = []
        self.requests: list[tuple[str, str]] = []
        self.patches: list[dict[str, Any]] = []  # bodies of PATCHes of the workloads themselves
        self.lock = threading.Lock()
        api = self

        class Handler(_JsonHandler):
            def _route(self, method: str) -> None:
                path, _, query = self.path.partition("?")
                with api.lock:
                    api.requests.append((method, self.path))
                    if api.fail:
                        code = api.fail.pop(0)
                        self.reply(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                          "code": code, "reason": "Injected"})
                        return
                    m = _SCALE.match(path)
                    key = (m.group(1), m.group(2), m.group(3)) if m else None
                    if key is None or key not in api.workloads:
                        self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                         "code": 404, "reason": "NotFound"})
                        return
                    w = api.workloads[key]
                    if m and m.group(4):  # the scale subresource
                        if method == "PATCH":
                            n = int(self.headers.get("Content-Length", "0"))
                            patch = json.loads(self.rfile.read(n) or b"{}")
                            replicas = int(patch["spec"]["replicas"])
                            if "dryRun=All" not in query:
                                w["replicas"], w["reads"] = replicas, 0
                                if replicas < w["ready"]:
                                    w["ready"] = replicas
                            self.reply(200, api.scale_doc(key, replicas))
                            return
                        self.reply(200, api.scale_doc(key, w["replicas"]))
                        return
                    if method == "PATCH":
                        n = int(self.headers.get("Content-Length", "0"))
                        api.patches.append(json.loads(self.rfile.read(n) or b"{}"))
                    w["reads"] += 1
                    if w["reads"] >= api.ready_after:
                        w["ready"] = w["replicas"]
                    self.reply(200, api.workload_doc(key))

            def do_GET(self) -> None:  # noqa: N802
                self._route("GET")

            def do_PATCH(self) -> None:  # noqa: N802
                self._route("PATCH")

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def add(self, name: str, replicas: int, namespace: str = "default", plural: str = "deployments") -> None:
        self.workloads[(namespace, plural, name)] = {"replicas": replicas, "ready": replicas, "reads": 0}

    def scale_doc(self, key: tuple[str, str, str], replicas: int) -> dict[str, Any]:
        return {"apiVersion": "autoscaling/v1", "kind": "Scale",
                "metadata": {"name": key[2], "namespace": key[0]},
                "spec": {"replicas": replicas}, "status": {"replicas": self.workloads[key]["ready"]}}

    def workload_doc(self, key: tuple[str, str, str]) -> dict[str, Any]:
        w = self.workloads[key]
        kind = "Deployment" if key[1] == "deployments" else "StatefulSet"
        spec: dict[str, Any] = {
            "replicas": w["replicas"], "selector": {"matchLabels": {"app": key[2]}},
            "template": {"metadata": {"labels": {"app": key[2]}},
                         "spec": {"containers": [{"name": "app", "image": "example/app:1"}]}}}
        if kind == "StatefulSet":
            spec["serviceName"] = key[2]
        return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": key[2], "namespace": key[0]},
                "spec": spec, "status": {"replicas": w["replicas"], "readyReplicas": w["ready"]}}

    def __enter__(self) -> "FakeKubeApi":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


class WebhookReceiver:
    """Answers POST/PUT/PATCH with the next scripted status (default 200) and keeps the count it was
    sent; GET /status reports it as ready."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.bodies: list[tuple[str, str, str]] = []
        self.replicas = 0
        rx = self

        class Handler(_JsonHandler):
            def _change(self) -> None:
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n).decode()
                rx.bodies.append((self.command, self.path, body))
                code = rx.statuses.pop(0) if rx.statuses else 200
                if code < 300:
                    rx.replicas = int(json.loads(body)["replicas"])
                self.reply(code, {"ok": code < 300})

            do_POST = do_PUT = do_PATCH = _change  # noqa: N815

            def do_GET(self) -> None:  # noqa: N802
                self.reply(200, {"service": {"ready_replicas": rx.replicas}})

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
