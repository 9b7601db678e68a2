"""Real local HTTP servers standing in for remote APIs: the fake of the Kubernetes API (shipped in
vigil.testing, as FakeKubeApi) and a webhook receiver."""

from __future__ import annotations

import json
import threading
from typing import Any

from vigil.act.actuators.fake_kube import JsonHandler, LoopbackServer
from vigil.testing import FakeKubeApi

__all__ = ["FakeKubeApi", "WebhookReceiver"]



class WebhookReceiver:
    """Answers POST/PUT/PATCH with the next scripted status (default 200) and keeps the count it was
    sent; GET /status reports it as ready."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.bodies: list[tuple[str, str, str]] = []
        self.replicas = 0
        rx = self

        class Handler(JsonHandler):
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

        self.server = LoopbackServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
