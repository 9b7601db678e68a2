"""Ctrl-C and SIGTERM in the middle of the method: the real `vigil chaos run` process goes to its
rollbacks, finishes them even when interrupted again, writes the journal and exits 2."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.chaos.conftest import action, faults
from vigil.demo.fleet import Fleet


def _wait_for(proc: subprocess.Popen[str], text: str, timeout: float = 30.0) -> str:
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{text!r} not printed; output so far:\n{seen}"
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            line = proc.stdout.readline()
            assert line, f"the process ended before printing {text!r}:\n{seen}"
            seen += line
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_still_rolls_back(sig: signal.Signals, shop: Fleet, http: httpx.Client,
                                             tmp_path: Path) -> None:
    catalog = shop.services["catalog"]
    experiment = tmp_path / "long.yaml"
    experiment.write_text(yaml.safe_dump({
        "title": "a long method",
        "method": [action("slow", "inject_latency", pauses={"after": 60}, url=catalog.url, latency_ms=250),
                   action("never", "inject_hang", url=catalog.url)],
        "rollbacks": [action("clear", "clear_faults", pauses={"before": 1.5}, url=catalog.url)],
    }))
    journal = tmp_path / "journal.json"
    proc = subprocess.Popen([sys.executable, "-m", "vigil.cli", "chaos", "run", str(experiment),
                             "--journal", str(journal)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _wait_for(proc, "method: action 'slow' succeeded")
        assert faults(http, shop, "catalog")["latency_ms"] == 250
        time.sleep(0.3)  # into the pause
        proc.send_signal(sig)
        time.sleep(0.5)  # into the rollback's own pause
        proc.send_signal(sig)  # a second one does not cut the rollbacks short
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, out
    assert "the rollbacks still run" in out
    data = json.loads(journal.read_text())
    assert data["status"] == "interrupted" and data["deviated"] is False
    assert [r["activity"]["name"] for r in data["run"]] == ["slow"]
    assert [(r["activity"]["name"], r["status"]) for r in data["rollbacks"]] == [("clear", "succeeded")]
    assert faults(http, shop, "catalog")["latency_ms"] == 0
