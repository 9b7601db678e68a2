"""`vigil incidents` and `vigil silence` against a real running `vigil up`: the address and key come
from the configuration file, as a person would use them."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.engine.test_up_process import wait_for
from vigil.demo.run import free_port

pytestmark = pytest.mark.slow
KEY = "cli-client-test-key-0123"


def vigil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vigil.cli", *args], capture_output=True, text=True, timeout=60)


def test_incidents_and_silences_from_the_command_line(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f"""
store: {{url: "sqlite:///{tmp_path / 'v.db'}"}}
server: {{port: {port}, api_keys: [{{name: carol, key: {KEY}}}]}}
services: [{{name: payments}}, {{name: storefront, depends_on: [payments]}}]
alerting:
  route: {{receiver: nobody, group_by: [incident]}}
  receivers: [{{name: nobody}}]
""")
    proc = subprocess.Popen([sys.executable, "-m", "vigil.cli", "up", "-c", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: httpx.get(base + "/readyz", timeout=2).status_code == 200, 60)
        r = httpx.post(base + "/api/v1/alerts", headers={"Authorization": f"Bearer {KEY}"}, timeout=5, json={
            "alerts": [{"name": "PaymentsDown", "service": "payments", "severity": "critical", "summary": "down"}]})
        r.raise_for_status()
        listed = vigil("incidents", "-c", str(cfg))
        assert listed.returncode == 0, listed.stderr
        assert "PaymentsDown" in listed.stdout and "payments" in listed.stdout
        ack = vigil("incidents", "-c", str(cfg), "ack", "1")
        assert ack.returncode == 0 and "[acknowledged]" in ack.stdout
        assert vigil("incidents", "-c", str(cfg), "note", "1", "rolling back").returncode == 0
        shown = vigil("incidents", "-c", str(cfg), "show", "1")
        assert "acknowledged by carol" in shown.stdout and "rolling back" in shown.stdout
        missing = vigil("incidents", "-c", str(cfg), "ack", "42")
        assert missing.returncode == 1 and "404" in missing.stderr and "no incident 42" in missing.stderr

        added = vigil("silence", "add", "service=payments", "--for", "2h", "--comment", "db failover", "-c", str(cfg))
        assert added.returncode == 0, added.stderr
        sid = added.stdout.strip().splitlines()[-1]
        assert sid in vigil("silence", "list", "-c", str(cfg)).stdout
        expired = vigil("silence", "expire", sid, "-c", str(cfg))
        assert expired.returncode == 0 and expired.stdout.strip() == f"{sid} expired"
        forever = vigil("silence", "add", "service=payments", "--for", "soon", "--comment", "x", "-c", str(cfg))
        assert forever.returncode == 2 and "expected a duration" in forever.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    down = vigil("incidents", "-c", str(cfg))
    assert down.returncode == 1 and "cannot reach vigil" in down.stderr and "vigil up" in down.stderr
