"""A second `vigil up` on a port in use fails at once with one clear line and touches nothing: the
socket is bound before the store is opened or the engine started."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from vigil.runner import StartupError, bind_listener

VIGIL = Path(sys.executable).parent / "vigil"


@pytest.fixture
def busy_port():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    yield taken.getsockname()[1]
    taken.close()


def test_a_used_port_is_one_line_and_nothing_is_touched(tmp_path: Path, busy_port: int) -> None:
    db = tmp_path / "vigil.db"
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f'store: {{url: "sqlite:///{db}"}}\nserver: {{port: {busy_port}}}\n'
                   "services:\n  - name: web\n    probes: [{kind: command, command: [touch, "
                   f'"{tmp_path / "probed"}"]}}]\n')
    result = subprocess.run([str(VIGIL), "up", "-c", str(cfg)], capture_output=True, text=True, timeout=60,
                            check=False, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert result.returncode == 1
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"port {busy_port} on 127.0.0.1 is already in use" in lines[0] and "--port" in lines[0]
    assert not db.exists(), "the store was opened although vigil could not listen"
    assert not (tmp_path / "probed").exists(), "a probe ran although vigil could not listen"
    assert "vigil is up" not in result.stdout


def test_bind_listener_names_a_host_it_cannot_resolve() -> None:
    with pytest.raises(StartupError, match="server.host"):
        bind_listener("no-such-host.invalid", 0)
