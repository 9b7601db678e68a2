"""The fleet launcher: the generated config validates, and nothing is left behind however the
launcher ends (its own stop() is checked when the shared fleet stops, in conftest.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time

import psutil

from vigil.config import parse_config
from vigil.demo.fleet import Fleet


def _gone(pids: list[int], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while True:
        alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def test_generated_config_validates(fleet: Fleet) -> None:
    cfg = parse_config(fleet.vigil_config(server_port=8123, api_key="demo-key-0123456789"))
    assert [s.name for s in cfg.services] == ["catalog", "payments", "storefront"]
    assert cfg.service("storefront").depends_on == ["catalog", "payments"]
    for s in cfg.services:
        url = fleet.services[s.name].url
        (probe,) = s.probes
        assert probe.kind == "http" and probe.url == url + "/health"
        assert probe.interval == 5.0 and probe.timeout == 2.0
        (scrape,) = s.metrics
        assert scrape.kind == "scrape" and scrape.url == url + "/metrics"
    assert cfg.store.url == f"sqlite:///{fleet.workdir / 'vigil.db'}"
    assert cfg.server.port == 8123 and cfg.server.api_keys[0].key.get_secret_value() == "demo-key-0123456789"
    assert len(parse_config(fleet.vigil_config()).server.api_keys[0].key.get_secret_value()) >= 24
    assert fleet.admin_urls["catalog"] == fleet.urls["catalog"] + "/admin/fault"


_LAUNCHER = textwrap.dedent("""
    import json, sys, time
    from vigil.demo.fleet import Fleet
    fleet = Fleet(sys.argv[1], load=sys.argv[2] == "load", day_seconds=30, peak_rps=5).start()
    print(json.dumps(fleet.pids()), flush=True)
    time.sleep(60)
""")


def _launch(tmp_path, load: bool) -> tuple[subprocess.Popen[str], list[int]]:
    proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(tmp_path), "load" if load else "-"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    pids = json.loads(proc.stdout.readline())
    proc.stdout.close()
    assert len(pids) == (4 if load else 3) and all(psutil.pid_exists(p) for p in pids)
    return proc, pids


def test_sigterm_to_the_launcher_stops_the_fleet(tmp_path) -> None:
    proc, pids = _launch(tmp_path, load=False)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    assert _gone(pids, within_s=1)


def test_children_leave_when_the_launcher_is_killed(tmp_path) -> None:
    proc, pids = _launch(tmp_path, load=True)
    proc.kill()  # no chance to clean up: the children notice they were re-parented
    proc.wait(timeout=5)
    assert _gone(pids, within_s=10)  # they look every second
