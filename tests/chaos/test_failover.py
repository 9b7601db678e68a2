"""examples/chaos/failover.yaml, run as a user would (`vigil chaos run ... -c vigil.yaml`): a primary and
a fallback serve one port; the experiment kills the primary and the fallback must serve. Without a
fallback the same experiment must report the deviation."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli import app

ROOT = Path(__file__).resolve().parents[2]
FAILOVER = ROOT / "examples" / "chaos" / "failover.yaml"


def _start(port: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    argv = [sys.executable, "-m", "vigil.demo.service", "--name", "catalog", "--host", "127.0.0.1",
            "--port", str(port), "--reuse-port", "--parent-pid", str(os.getpid())]
    with open(log, "ab") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                start_new_session=True)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    line = proc.stdout.readline().decode() if ready else ""
    proc.stdout.close()
    assert line.startswith("listening http://"), (line, log.read_text())
    return proc, line.split()[1]


def _serving(tmp_path: Path, fallback: bool) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The primary, then (if `fallback`) its fallback on the same port, and a vigil.yaml naming them catalog."""
    primary, url = _start(0, tmp_path / "primary.log")
    procs = [primary]
    if fallback:
        procs.append(_start(int(url.rsplit(":", 1)[1]), tmp_path / "fallback.log")[0])
    (tmp_path / "vigil.yaml").write_text(f"""
services:
  - name: catalog
    chaos: allowed
    probes: [{{kind: http, name: health, url: "{url}/health"}}]
""")
    yield procs
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    yield from _serving(tmp_path, fallback=True)


@pytest.fixture
def alone(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    yield from _serving(tmp_path, fallback=False)


def _run(tmp_path: Path) -> tuple[int, dict, str]:
    journal = tmp_path / "journal.json"
    result = CliRunner().invoke(app, ["chaos", "run", str(FAILOVER), "-c", str(tmp_path / "vigil.yaml"),
                                      "--journal", str(journal)])
    return result.exit_code, json.loads(journal.read_text()), result.output


@pytest.mark.slow
def test_the_fallback_serves_when_the_primary_is_killed(pair: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    primary, fallback = pair
    code, journal, output = _run(tmp_path)
    assert code == 0, output
    assert journal["status"] == "completed" and journal["deviated"] is False
    run = {r["activity"]["name"]: r for r in journal["run"]}
    assert run["replicas-before"]["output"] == 2
    killed = run["kill-the-primary"]["output"]
    assert [k["pid"] for k in killed["killed"]] == [primary.pid]  # the oldest: the primary
    assert killed["gone"] is True and killed["remaining"] == [fallback.pid] and killed["signal"] == "SIGKILL"
    assert run["served-by-the-fallback"]["output"] == 200
    after = journal["steady_states"]["after"]["probes"]
    assert [p["tolerance_met"] for p in after] == [True, True]
    assert after[0]["output"] <= 1000 and after[1]["output"] == 1
    assert primary.wait(5) == -signal.SIGKILL and fallback.poll() is None
    assert "the system held" in output


@pytest.mark.slow
def test_without_a_fallback_the_experiment_deviates(alone: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    (primary,) = alone
    code, journal, output = _run(tmp_path)
    assert code == 1, output
    assert journal["deviated"] is True and journal["status"] == "failed"
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    after = journal["steady_states"]["after"]["probes"]
    assert after[0]["tolerance_met"] is False and after[0]["status"] == "failed"  # nobody answers
    assert after[1]["output"] == 0
    assert primary.wait(5) == -signal.SIGKILL
    assert "DEVIATED" in output
