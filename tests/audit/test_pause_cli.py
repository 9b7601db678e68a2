"""`vigil pause` and `vigil resume` against a real running `vigil up`: the kill switch shows in the API
and /metrics, survives a restart of vigil, and each change is in the audit log with the key's name,
which `vigil audit verify` then finds intact."""

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
KEY = "pause-cli-test-key-0123"


def vigil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vigil.cli", *args], capture_output=True, text=True, timeout=60)


def up(cfg: Path, base: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "vigil.cli", "up", "-c", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    assert wait_for(lambda: httpx.get(base + "/readyz", timeout=2).status_code == 200, 60)
    return proc


def down(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def test_pause_survives_a_restart_and_is_audited(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f"""
store: {{url: "sqlite:///{tmp_path / 'v.db'}"}}
server: {{port: {port}, api_keys: [{{name: dana, key: {KEY}}}]}}
services: [{{name: payments}}]
""")
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {KEY}"}
    proc = up(cfg, base)
    try:
        paused = vigil("pause", "--reason", "db migration", "-c", str(cfg))
        assert paused.returncode == 0, paused.stderr
        assert "automation PAUSED by key:dana: db migration" in paused.stdout
        assert "vigil_automation_paused 1.0" in httpx.get(base + "/metrics", timeout=5).text
    finally:
        down(proc)
    proc = up(cfg, base)
    try:
        state = httpx.get(base + "/api/v1/automation", headers=auth, timeout=5).json()
        assert state["paused"] is True and state["by"] == "key:dana" and state["reason"] == "db migration"
        resumed = vigil("resume", "-c", str(cfg))
        assert resumed.returncode == 0 and "automation running" in resumed.stdout
        assert httpx.get(base + "/api/v1/automation", headers=auth, timeout=5).json()["paused"] is False
        records = httpx.get(base + "/api/v1/audit", headers=auth, timeout=5).json()["records"]
        assert [(r["actor"], r["action"]) for r in records] == [("key:dana", "automation.resume"),
                                                                  ("key:dana", "automation.pause")]
    finally:
        down(proc)
    checked = vigil("audit", "verify", "-c", str(cfg))
    assert checked.returncode == 0 and "ok: 2 audit records" in checked.stdout
    gone = vigil("pause", "-c", str(cfg))
    assert gone.returncode == 1 and "cannot reach vigil" in gone.stderr
