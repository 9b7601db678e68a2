"""`vigil up` as a real process: serves the API, probes a real HTTP server, and on SIGTERM stops
cleanly (exit 0) with everything it collected written."""

from __future__ import annotations

import http.server
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from vigil.demo.run import free_port
from vigil.model import SeriesKey
from vigil.store import open_store

pytestmark = pytest.mark.slow


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *args: object) -> None:
        pass


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def test_up_serves_probes_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    api_port = free_port()
    db = tmp_path / "vigil.db"
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f"""
store: {{url: "sqlite:///{db}"}}
server: {{port: {api_port}, api_keys: [{{name: t, key: "${{TEST_KEY}}"}}]}}
services:
  - name: web
    probes:
      - {{kind: http, url: "http://127.0.0.1:{target.server_port}/health", interval: 1s, timeout: 1s,
          json_field: {{path: status, equals: ok}}}}
""")
    vigil = Path(sys.executable).parent / "vigil"
    proc = subprocess.Popen([str(vigil), "up", "-c", str(cfg)],
                            env={"TEST_KEY": "k-123-0123456789ab", "PATH": "/usr/bin:/bin"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{api_port}"
    auth = {"Authorization": "Bearer k-123-0123456789ab"}
    try:
        assert wait_for(lambda: httpx.get(f"{base}/readyz", timeout=5).status_code == 200, 90), "never ready"
        assert wait_for(lambda: httpx.get(f"{base}/api/v1/services", headers=auth, timeout=5)
                        .json()["services"][0]["health"] == "healthy", 40)
        pushed = httpx.post(f"{base}/api/v1/samples", headers=auth, timeout=5,
                            json={"samples": [{"series": "jobs_done", "ts": 1_700_000_000 + i, "value": i}
                                              for i in range(50)]})
        assert pushed.json() == {"written": 50}
        assert httpx.get(f"{base}/api/v1/services", timeout=5).status_code == 401
        assert wait_for(lambda: len(httpx.get(f"{base}/api/v1/probes", headers=auth, timeout=5)
                                    .json()["results"]) >= 3, 40)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        target.shutdown()
    assert proc.returncode == 0, err
    assert "vigil is up" in out and "vigil stopped" in out
    assert "k-123-0123456789ab" not in out + err  # the key is never printed when it came from the config
    store = open_store(f"sqlite:///{db}")
    try:
        assert store.events(kind="engine")[-1].message == "vigil stopped"
        done = store.query_range(SeriesKey.of("jobs_done"), 1_699_999_999, 1_700_000_100, resolution="raw")
        assert len(done.ts) == 50
        assert len(store.probe_results(service="web")) >= 3
    finally:
        store.close()
