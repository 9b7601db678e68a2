"""Where the demo's notifications go: a real SMTP server (aiosmtpd, on its own thread) and a real
webhook receiver (an HTTP server on its own thread), both on free loopback ports, so `make demo` shows
vigil's pages arriving, as an on-call engineer's inbox and an incident tool would get them."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"
KEEP = 50  # messages kept per sink for the view


@dataclass(frozen=True, slots=True)
class Received:
    at: float  # wall time it arrived
    via: str  # email | webhook
    status: str  # firing | resolved | escalation ...
    what: str  # a mail's subject, a webhook's alert names and group

    def __str__(self) -> str:
        return f"{time.strftime('%H:%M:%S', time.localtime(self.at))} {self.via:<7} {self.status:<8} {self.what}"


@dataclass
class Sinks:
    """An SMTP server and a webhook receiver for the demo's route; `received` is what came, newest last."""

    received: list[Received] = field(default_factory=list)
    smtp_port: int = 0
    webhook_port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _smtp: Any = None
    _http: ThreadingHTTPServer | None = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        sinks = self

        class Mail:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                subject = str(msg.get("Subject", ""))
                status = "resolved" if "resolved" in subject.lower() else "firing"
                sinks._keep(Received(time.time(), "email", status, subject))
                return "250 OK"

        self.smtp_port = _free_port()  # aiosmtpd checks its server by connecting: it needs the port first
        self._smtp = Controller(Mail(), hostname=HOST, port=self.smtp_port)
        self._smtp.start()

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(min(int(self.headers.get("Content-Length") or 0), 4 * 2**20))
                try:
                    doc = json.loads(body)
                    names = sorted({a.get("labels", {}).get("alertname", "?") for a in doc.get("alerts", [])})
                    what = f"{', '.join(names)} (group {doc.get('groupKey', '')})"
                    sinks._keep(Received(time.time(), "webhook", str(doc.get("status", "?")), what))
                    self.send_response(200)
                except (ValueError, AttributeError):
                    self.send_response(400)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer((HOST, 0), Hook)
        self.webhook_port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, name="demo-webhook-sink", daemon=True).start()

    def _keep(self, r: Received) -> None:
        with self._lock:
            self.received = (self.received + [r])[-KEEP:]

    def latest(self, n: int = 5) -> list[Received]:
        with self._lock:
            return list(self.received[-n:])

    def receivers(self, group_wait: str = "10s", group_interval: str = "30s") -> dict[str, Any]:
        """The `alerting:` section routing every incident to both sinks (one page per incident)."""
        return {
            "route": {"receiver": "oncall", "group_by": ["incident"], "group_wait": group_wait,
                      "group_interval": group_interval, "repeat_interval": "4h"},
            "receivers": [{"name": "oncall", "email_configs": [{
                "to": "oncall@shop.demo", "from": "vigil@shop.demo", "smarthost": f"{HOST}:{self.smtp_port}",
                "require_tls": False, "send_resolved": True}],
                "webhook_configs": [{"url": f"http://{HOST}:{self.webhook_port}/hook"}]}],
        }

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])
