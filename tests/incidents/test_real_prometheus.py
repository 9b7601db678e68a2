"""vigil in place of Alertmanager, and behind one, with the real programs (Debian `prometheus` 2.42 and
`prometheus-alertmanager` 0.25), each started here on a free loopback port with its own temporary
folder and short intervals: a Prometheus alerting rule on a metric of a tiny exporter served here
fires, the alert reaches a real `vigil up`, one incident opens; the exporter's value drops, the rule
clears, and that incident resolves.

(i) Prometheus sends straight to vigil's `/api/v2/alerts` (its `alerting.alertmanagers` pointing at
vigil, with the ingest key as a bearer token); (ii) Prometheus -> Alertmanager -> vigil's webhook
receiver (`/api/v1/alerts/webhook`, payload version 4)."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.incidents.vigil_process import KEY, VigilProcess, wait_until
from vigil.demo.run import free_port

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]

VIGIL_BODY = """
services:
  - name: checkout
  - name: storefront
    depends_on: [checkout]
"""

RULES = """
groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: CheckoutFailing
        expr: e2e_checkout_failing > 0
        labels: {severity: critical, service: checkout}
        annotations: {summary: "checkout is failing"}
"""


class Exporter:
    """`e2e_checkout_failing` at whatever value the test sets, in the text exposition format."""

    def __init__(self) -> None:
        self.value = 0
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                body = f"# TYPE e2e_checkout_failing gauge\ne2e_checkout_failing {exporter.value}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(f"/usr/bin/{name}")
    if not found:
        pytest.skip(f"{name} is not installed (Debian package {name}; scripts/test-services.sh installs it)")
    return found


@contextmanager
def running(argv: list[str], folder: Path, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """A server of ours, stopped (and only it, by its pid) at the end."""
    with open(folder / f"{name}.log", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def prometheus_argv(folder: Path, exporter: Exporter, alerting: str) -> list[str]:
    (folder / "rules.yml").write_text(RULES)
    (folder / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{folder / 'rules.yml'}]
scrape_configs:
  - job_name: e2e
    static_configs: [{{targets: ["{exporter.target}"]}}]
alerting:
  alertmanagers:
{alerting}
""")
    return [binary("prometheus"), f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{free_port()}",
            "--rules.alert.resend-delay=1s"]


def one_incident_opens_then_resolves(vigil: VigilProcess, exporter: Exporter, prom: subprocess.Popen[bytes],
                                     folder: Path, source: str) -> None:
    assert vigil.incidents() == []
    exporter.value = 1  # the rule's condition holds from the next scrape

    def opened() -> list[dict]:
        assert prom.poll() is None, (folder / "prometheus.log").read_text()[-2000:]
        return vigil.incidents()

    [inc] = wait_until(opened, 60, "an incident for CheckoutFailing")
    assert inc["service"] == "checkout" and inc["status"] == "open" and inc["severity"] == "critical"
    detail = vigil.get(f"/api/v1/incidents/{inc['id']}")
    [member] = detail["alerts"]
    assert member["alertname"] == "CheckoutFailing" and member["firing"]
    alerts = vigil.get("/api/v1/alerts")["alerts"]
    assert {a["source"] for a in alerts if a["labels"].get("alertname") == "CheckoutFailing"} == {source}
    exporter.value = 0  # the condition clears: Prometheus (or Alertmanager) says resolved

    def resolved() -> dict | None:
        found = vigil.incidents()
        assert len(found) == 1, f"a second incident opened: {found}"  # re-sends open nothing new
        return found[0] if found[0]["status"] == "resolved" else None

    done = wait_until(resolved, 90, "the incident to resolve")
    assert done["id"] == inc["id"] and done["resolved_by"] is None  # resolved by the alert, not a person
    assert not vigil.get(f"/api/v1/incidents/{inc['id']}")["alerts"][0]["firing"]


def test_prometheus_sends_straight_to_vigil(tmp_path: Path) -> None:
    exporter = Exporter()
    vigil = VigilProcess(tmp_path, VIGIL_BODY).start()
    alerting = f"""    - api_version: v2
      authorization: {{credentials: "{KEY}"}}
      static_configs: [{{targets: ["127.0.0.1:{vigil.port}"]}}]
"""
    try:
        with running(prometheus_argv(tmp_path, exporter, alerting), tmp_path, "prometheus") as prom:
            one_incident_opens_then_resolves(vigil, exporter, prom, tmp_path, "ingest:alertmanager-api")
    finally:
        assert vigil.stop() == 0, vigil.log()[-3000:]
        exporter.close()


@pytest.mark.alertmanager
def test_prometheus_then_alertmanager_then_vigils_webhook(tmp_path: Path) -> None:
    exporter = Exporter()
    vigil = VigilProcess(tmp_path, VIGIL_BODY).start()
    am_port = free_port()
    (tmp_path / "alertmanager.yml").write_text(f"""
route:
  receiver: vigil
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: vigil
    webhook_configs:
      - url: "http://127.0.0.1:{vigil.port}/api/v1/alerts/webhook"
        send_resolved: true
        http_config: {{authorization: {{credentials: "{KEY}"}}}}
""")
    am_argv = [binary("prometheus-alertmanager"), f"--config.file={tmp_path / 'alertmanager.yml'}",
               f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
               "--cluster.listen-address="]
    alerting = f"""    - api_version: v2
      static_configs: [{{targets: ["127.0.0.1:{am_port}"]}}]
"""
    try:
        with running(am_argv, tmp_path, "alertmanager") as am, \
                running(prometheus_argv(tmp_path, exporter, alerting), tmp_path, "prometheus") as prom:
            wait_until(lambda: am.poll() is None and _answers(f"http://127.0.0.1:{am_port}/-/ready"), 30,
                       "Alertmanager ready")
            one_incident_opens_then_resolves(vigil, exporter, prom, tmp_path, "ingest:alertmanager-webhook")
    finally:
        assert vigil.stop() == 0, vigil.log()[-3000:]
        exporter.close()


def _answers(url: str) -> bool:
    import httpx

    return httpx.get(url, timeout=2).status_code == 200
