"""storefront as replicas run by vigil's own `process` actuator: it follows a compressed day of
traffic, faults reach every replica, and no replica outlives the demo. Real processes, loopback."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import psutil
import pytest

from tests.demo.test_fleet import _gone
from vigil.act.actuators import build_actuator, execute_scale
from vigil.clock import SystemClock
from vigil.config import parse_config
from vigil.demo.autoscale import StorefrontScaling
from vigil.demo.fleet import Fleet
from vigil.testing import RecordingStage

# A 24 s day from 06:00: quiet until the ramp at ~07:30 (1.5 s in), busy until 23:00 (17 s in), then
# night. 20 requests/s at the peak against 5 per replica: 1 replica at night, 4 at the peak.
DAY_S, PEAK_RPS, PERIOD_S = 24.0, 20.0, 1.0
FAST = StorefrontScaling(mode="predictive", min_replicas=1, max_replicas=4, target_rps=5.0,
                         sync_period_s=PERIOD_S, ready_timeout_s=20.0)


async def _until(check: Any, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, f"not within {within_s}s: {what}"
        await asyncio.sleep(0.2)


@pytest.mark.timeout(90)
async def test_storefront_follows_the_day_up_and_down(tmp_path) -> None:
    from vigil.app import build_app

    with Fleet(tmp_path / "fleet", day_seconds=DAY_S, peak_rps=PEAK_RPS, seed=3, scaling=FAST) as fleet:
        config = parse_config(fleet.vigil_config(
            probe_interval_s=PERIOD_S, probe_timeout_s=0.8, scrape_interval_s=PERIOD_S,
            store_url=f"sqlite:///{tmp_path / 'vigil.db'}"))
        # The engine with detection and rules left out (a recording stage in their place): detection's
        # start-up compilation would cost more than the whole day. The full demo runs in the last test.
        _, engine = build_app(config, replace={"detect": RecordingStage("no-detect"),
                                               "rules": RecordingStage("no-rules")})
        stage = engine.stages.scale
        await engine.start()
        try:
            controller = stage.controllers["storefront"]
            actuator = controller.actuator
            assert actuator.kind == "process"  # built from the generated config
            await asyncio.to_thread(fleet.start_load, 30)  # once vigil started the first replica
            seen: list[int] = []

            async def replicas_reached(check: Any) -> bool:
                seen.append(controller.replicas)
                return bool(check(controller.replicas))

            await _until(lambda: replicas_reached(lambda n: n >= 3), DAY_S, f"scale-up; seen {seen}")
            await _until(lambda: replicas_reached(lambda n: n == 1), DAY_S + 10, f"scale-down; seen {seen}")
            ready = await actuator.ready_replicas()
            assert ready == controller.replicas == len(actuator.pids()) == len(fleet.replica_pids()) == 1
            pids = fleet.replica_pids()
        finally:
            fleet.stop_load()
            await engine.stop()
            decisions = engine.store.decisions(kind="scale", subject="storefront", limit=10_000)
            engine.store.close()
        assert fleet.replica_pids() == [] and not any(psutil.pid_exists(p) for p in pids)

    decisions.sort(key=lambda d: d.ts)
    first = decisions[0]
    assert first.rule == "CurrentBelowMin" and first.result["replicas"] == 1
    assert first.result["outcome"]["status"] == "succeeded"
    acted = [d for d in decisions[1:] if d.result["act"]]
    counts = [d.result["replicas"] for d in acted]
    top = counts.index(max(counts))
    assert max(counts) >= 3 and counts[-1] == 1 and top < len(counts) - 1, counts
    for d in acted:  # every scale was verified by the ready count the actuator reported
        assert d.result["outcome"]["status"] == "succeeded", d.result
        assert d.result["outcome"]["ready"] == d.result["replicas"]
        assert d.inputs["metric_kind"] == "requests_per_replica" and d.inputs["mode"] == "predictive"
    assert {d.rule for d in acted} and all(d.rule for d in decisions)


def _fault(client: httpx.Client, url: str, body: dict[str, Any] | None) -> None:
    r = client.post(url, json=body) if body is not None else client.delete(url)
    assert r.status_code == 200, r.text


@pytest.mark.timeout(90)
async def test_a_fault_through_the_shared_port_reaches_every_replica(tmp_path) -> None:
    with Fleet(tmp_path / "fleet", load=False, seed=5, scaling=FAST) as fleet:
        config = parse_config(fleet.vigil_config(store_url=f"sqlite:///{tmp_path / 'v.db'}"))
        scaling = config.service("storefront").scaling
        assert scaling.predictive.season == fleet.day_seconds
        assert scaling.metric.kind == "requests_per_replica"
        assert scaling.actuator.port == fleet.services["storefront"].port
        actuator = build_actuator(scaling.actuator, "storefront")
        member = fleet.services["storefront"]
        try:
            assert (await execute_scale(actuator, 3, SystemClock(), verify_timeout=30)).ok
            replicas = set(actuator.pids())
            with httpx.Client(timeout=5.0, headers={"Connection": "close"}) as client:
                def health_pids(n: int, slow_s: float = 0.0) -> set[int]:
                    out = set()
                    for _ in range(n):
                        t = time.monotonic()
                        r = client.get(member.health_url)
                        assert time.monotonic() - t >= slow_s, "a replica missed the fault"
                        out.add(r.json()["pid"])
                    return out

                assert await asyncio.to_thread(health_pids, 40) == replicas  # the kernel spreads them
                _fault(client, member.admin_url, {"latency_ms": 300})
                await asyncio.sleep(0.6)  # replicas read the shared fault file every 0.25 s
                assert await asyncio.to_thread(health_pids, 25, 0.3) == replicas

                # /metrics from any replica counts the requests of all of them
                text = client.get(member.metrics_url).text  # noqa: ASYNC212  loopback, milliseconds
                total = next(float(line.split()[1]) for line in text.splitlines()
                             if line.startswith("shop_requests_total "))
                fault_line = 'demo_fault{knob="latency_ms"} 300.0'
                assert fault_line in text, text
                _fault(client, member.admin_url, None)
                await asyncio.sleep(0.6)
                t = time.monotonic()
                for _ in range(9):
                    client.get(member.url + "/")  # noqa: ASYNC212  loopback, milliseconds
                assert time.monotonic() - t < 2.7  # cleared everywhere
                text = client.get(member.metrics_url).text  # noqa: ASYNC212  loopback, milliseconds
                after = next(float(line.split()[1]) for line in text.splitlines()
                             if line.startswith("shop_requests_total "))
                assert after == total + 9
                # a crash reaches every replica; the actuator replaces each, as a ReplicaSet would
                try:
                    client.post(member.admin_url, json={"crash": True})  # noqa: ASYNC212  loopback, milliseconds
                except httpx.HTTPError:
                    pass
            await _until(lambda: _true(not set(actuator.pids()) & replicas), 10, "all replicas crashed")
            await _until(lambda: _ready(actuator, 3), 30, "replaced")
            assert actuator.restarts == 3
        finally:
            await actuator.close()
        assert actuator.pids() == [] and not any(psutil.pid_exists(p) for p in replicas)


async def _true(value: bool) -> bool:
    return value


async def _ready(actuator: Any, n: int) -> bool:
    return await actuator.ready_replicas() == n


@pytest.mark.timeout(120)
def test_ctrl_c_leaves_no_replica_behind() -> None:
    """`vigil demo` as a user runs it: once vigil runs storefront's replicas and the load, Ctrl-C."""
    proc = subprocess.Popen([sys.executable, "-m", "vigil.demo", "--headless", "--day", "20"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    try:
        first = ""  # up to "watching ...": printed once the API answers and the load runs
        while not first.endswith("\n") or not first.splitlines()[-1].startswith("watching"):
            line = proc.stdout.readline()
            assert line, first
            first += line
        kids = psutil.Process(proc.pid).children(recursive=True)
        replicas = [k.pid for k in kids if "--reuse-port" in k.cmdline()]
        # besides the replicas: catalog, payments and the load generator
        assert replicas and len(kids) == len(replicas) + 3, [k.cmdline() for k in kids]
        proc.send_signal(signal.SIGINT)
        out = first + proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert re.search(r"storefront replicas: \d+ at the end", out), out
    assert _gone([k.pid for k in kids], within_s=5), out

