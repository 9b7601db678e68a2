"""Command-probe children do not outlive vigil: `vigil up` runs as a real process, is killed with
SIGKILL mid-probe, and what its probe started must be gone (the direct child at once, by the
parent-death signal; what that child started, at the next vigil's start, by the reaper)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vigil.demo.run import free_port
from vigil.sources.orphans import OWNER_ENV, reap_orphans

pytestmark = pytest.mark.slow
VIGIL = Path(sys.executable).parent / "vigil"


def alive(pid: int) -> bool:
    """Running (a zombie is dead: in a container nothing may ever reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def pids_running(argv: list[str]) -> list[int]:
    wanted = "\0".join(argv).encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes() == wanted and alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def wait_until(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def start_vigil(tmp_path: Path, command: list[str], name: str) -> subprocess.Popen[bytes]:
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(f"""
store: {{url: "sqlite:///{tmp_path / name}.db"}}
server: {{port: {free_port()}, api_keys: [{{name: t, key: test-key-123-4567890}}]}}
services:
  - name: batch
    probes:
      - {{kind: command, command: {command!r}, interval: 2h, timeout: 1h}}
""".replace("'", '"'))
    return subprocess.Popen([str(VIGIL), "up", "-c", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_probe_child_dies_with_a_sigkilled_vigil(tmp_path: Path) -> None:
    sleep = ["sleep", f"{3600 + random.random():.6f}"]  # a unique argv: only our child matches
    vigil = start_vigil(tmp_path, sleep, "one")
    try:
        assert wait_until(lambda: pids_running(sleep), 90), vigil.stderr and vigil.stderr.read1().decode()
        [child] = pids_running(sleep)
        assert OWNER_ENV.encode() in Path(f"/proc/{child}/environ").read_bytes()
        vigil.kill()  # SIGKILL: no handler of vigil's runs
        vigil.wait(timeout=10)
        assert wait_until(lambda: not alive(child), 5), "the command probe's child outlived vigil"
    finally:
        stop(vigil)
        for pid in pids_running(sleep):
            os.kill(pid, signal.SIGKILL)


def test_what_the_child_started_is_reaped_at_the_next_start(tmp_path: Path) -> None:
    sleep = ["sleep", f"{3600 + random.random():.6f}"]
    first = start_vigil(tmp_path, ["sh", "-c", f"{' '.join(sleep)} & wait"], "first")
    second = None
    try:
        assert wait_until(lambda: pids_running(sleep), 90)
        [grandchild] = pids_running(sleep)
        assert reap_orphans() == 0 and alive(grandchild)  # its vigil is alive: not an orphan, left alone
        first.kill()
        first.wait(timeout=10)
        time.sleep(1.0)
        assert alive(grandchild)  # the parent-death signal reaches only the direct child (sh)
        second = start_vigil(tmp_path, ["true"], "second")
        assert wait_until(lambda: not alive(grandchild), 90), "the next vigil did not reap the orphan"
        assert second.poll() is None  # reaping did not stop the new vigil
    finally:
        stop(first)
        if second is not None:
            stop(second)
        for pid in pids_running(sleep):
            os.kill(pid, signal.SIGKILL)
