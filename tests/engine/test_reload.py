"""Reloading the alerting section, as Alertmanager does: `POST /-/reload` and SIGHUP read the file
again; a file with problems changes nothing and says what is wrong."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.engine.test_up_process import wait_for
from vigil.app import build_app
from vigil.config import load_config
from vigil.demo.run import free_port
from vigil.runner import alerting_reloader
from vigil.testing import InlineWriter

KEY = "reload-test-key-0123"


def config(db: Path, receiver: str, port: int = 0) -> str:
    return f"""
store: {{url: "sqlite:///{db}"}}
server: {{port: {port}, api_keys: [{{name: ops, key: {KEY}}}]}}
services: [{{name: payments}}]
alerting:
  route: {{receiver: {receiver}, group_by: [alertname]}}
  receivers: [{{name: {receiver}}}]
"""


async def test_post_reload_applies_the_new_route_or_refuses_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(config(tmp_path / "v.db", "team-a"))
    app, engine = build_app(load_config(path), collectors=[], writer=InlineWriter(), worker=InlineWriter())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil.test",
                                 headers={"Authorization": f"Bearer {KEY}"}) as client:
        assert (await client.post("/-/reload")).status_code == 409  # not started from a file
        await engine.start()
        app.state.reload = alerting_reloader(engine, path)
        try:
            post = await client.post("/api/v2/alerts", json=[{"labels": {"alertname": "X", "service": "payments"}}])
            assert post.status_code == 200
            receivers = (await client.get("/api/v2/alerts")).json()[0]["receivers"]
            assert receivers == [{"name": "team-a"}]
            path.write_text(config(tmp_path / "v.db", "team-b"))
            r = await client.post("/-/reload")
            assert r.status_code == 200 and r.json() == {"reloaded": "alerting"}
            assert (await client.get("/api/v2/alerts")).json()[0]["receivers"] == [{"name": "team-b"}]
            path.write_text(config(tmp_path / "v.db", "team-c").replace("receivers: [{name: team-c}]",
                                                                        "receivers: [{name: other}]"))
            bad = await client.post("/-/reload")
            assert bad.status_code == 400 and "team-c" in bad.text  # the route's receiver does not exist
            assert (await client.get("/api/v2/alerts")).json()[0]["receivers"] == [{"name": "team-b"}]
            assert any("reloaded by ops" in e.message for e in engine.store.events(kind="config"))
        finally:
            await engine.stop()
            engine.store.close()


@pytest.mark.slow
def test_sighup_reloads_a_running_vigil(tmp_path: Path) -> None:
    port = free_port()
    path = tmp_path / "vigil.yaml"
    path.write_text(config(tmp_path / "v.db", "team-a", port))
    proc = subprocess.Popen([sys.executable, "-m", "vigil.cli", "up", "-c", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {KEY}"}
    try:
        assert wait_for(lambda: httpx.get(base + "/readyz", timeout=2).status_code == 200, 60)
        httpx.post(base + "/api/v2/alerts", json=[{"labels": {"alertname": "X", "service": "payments"}}],
                   headers=headers, timeout=5).raise_for_status()
        path.write_text(config(tmp_path / "v.db", "team-b", port))
        proc.send_signal(signal.SIGHUP)

        def moved() -> bool:
            alerts = httpx.get(base + "/api/v2/alerts", headers=headers, timeout=5).json()
            return alerts[0]["receivers"] == [{"name": "team-b"}]
        assert wait_for(moved, 20)
        assert proc.poll() is None  # SIGHUP reloads; it does not stop vigil
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "alerting configuration reloaded" in out

