"""CPU and memory stress really load this machine, and end on time; kill_replica kills only services."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from tests.chaos.conftest import action, config_text, plan, run
from vigil.chaos.builtins import Context, new_http_client
from vigil.chaos.experiment import ExperimentError
from vigil.chaos.kill import Kill, kill_replica
from vigil.chaos.scope import ChaosRefused, Scope
from vigil.chaos.stress import CpuStress, MemoryStress, stress_cpu, stress_memory
from vigil.demo.fleet import Fleet


def _children() -> set[int]:
    return {c.pid for c in psutil.Process().children(recursive=True)}


async def _call(builtin: Any, params: Any) -> Any:
    async with new_http_client() as http:
        return await builtin.run(params, Context(Scope(), http, what="test"))


def test_cpu_stress_keeps_a_core_busy_for_its_duration() -> None:
    before = _children()
    out = asyncio.run(_call(stress_cpu, CpuStress(workers=1, duration_s=1.0)))
    assert 1.0 <= out["duration_s"] < 5
    # Busy: far more CPU than the same child sleeping for the same second (its start-up costs both the
    # same). On a shared machine a busy process gets a share of a core, not all of it.
    sleeper = subprocess.run([sys.executable, "-c", "import time; time.sleep(1); print(time.process_time())"],
                             capture_output=True, text=True, check=True)
    assert out["cpu_s"][0] >= max(0.1, 3 * float(sleeper.stdout)), (out, sleeper.stdout)
    assert _children() == before


def test_memory_stress_holds_its_memory_resident() -> None:
    out = asyncio.run(_call(stress_memory, MemoryStress(mb=48, duration_s=0.5)))
    assert out["resident_mb"] >= 48 and out["duration_s"] >= 0.5


async def test_a_cancelled_stress_leaves_no_process_behind() -> None:
    before = _children()
    async with new_http_client() as http:
        task = asyncio.create_task(stress_cpu.run(CpuStress(workers=1, duration_s=60), Context(Scope(), http)))
        await asyncio.sleep(0.5)
        assert len(_children() - before) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert _children() == before


def test_stress_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="cores"):
        CpuStress(workers=(os.cpu_count() or 1) + 1, duration_s=1)
    with pytest.raises(ValueError, match="less than or equal to 300"):
        CpuStress(duration_s=301)
    with pytest.raises(ValueError, match="less than or equal to 4096"):
        MemoryStress(mb=5000, duration_s=1)
    # a machine with 1 GB free: 600 MB is more than half of it
    monkeypatch.setattr("vigil.chaos.stress.psutil.virtual_memory", lambda: type("M", (), {"available": 2**30}))
    with pytest.raises(ValueError, match="more than half of the memory available now \\(512 MB\\)"):
        MemoryStress(mb=600, duration_s=1)


def test_kill_replica_refuses_what_is_not_a_service_of_ours() -> None:
    code = f"import time; time.sleep(30)  # chaos test {os.getpid()}"  # names this one process
    sleeper = subprocess.Popen([sys.executable, "-c", code])
    try:
        for kw in ({"pid": os.getpid()}, {"pid": sleeper.pid}):
            with pytest.raises(ExperimentError, match="runs this experiment|not a service of this user"):
                plan({"title": "t", "method": [action("kill", "kill_replica", **kw)]})
        with pytest.raises(ChaosRefused, match="not a service of this user"):
            asyncio.run(_call(kill_replica, Kill(command=["-c", code])))
        with pytest.raises(RuntimeError, match="no running process matches"):
            asyncio.run(_call(kill_replica, Kill(command=["no-such-program-anywhere-7"])))
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.slow
def test_kill_by_command_and_a_run_that_records_it(tmp_path: Path) -> None:
    server = subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1",
                               "--directory", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not [c for c in psutil.Process(server.pid).net_connections("tcp") if c.status == "LISTEN"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # the folder in its command line names this server alone, whatever else runs on the machine
        exp = {"title": "kill it", "method": [action("kill", "kill_replica", signal="SIGTERM",
                                                     command=["--directory", str(tmp_path)])]}
        journal = run(plan(exp))
        out = journal.data["run"][0]["output"]
        assert journal.exit_status == 0
        assert [k["pid"] for k in out["killed"]] == [server.pid] and out["gone"] and out["signal"] == "SIGTERM"
        assert server.wait(5) != 0
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()


def test_with_a_configuration_a_pid_must_serve_one_of_its_services_that_allows_chaos(shop: Fleet) -> None:
    catalog = shop.services["catalog"]
    exp = {"title": "t", "method": [action("kill", "kill_replica", pid=catalog.pid)]}
    with pytest.raises(ExperimentError, match="service 'catalog' does not allow chaos"):
        plan(exp, config_text(shop, not_allowed=("catalog",)))
    assert len(plan(exp, config_text(shop)).method) == 1
    only_payments = yaml.safe_load(config_text(shop))
    only_payments["services"] = [s for s in only_payments["services"] if s["name"] == "payments"]
    with pytest.raises(ExperimentError, match=f"pid {catalog.pid} serves no service of vigil.yaml"):
        plan(exp, yaml.safe_dump(only_payments))
    assert catalog.running()
