"""vigil watching the demo fleet: the headless demo run, and a fault showing up as a failing probe."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import psutil
import pytest

from vigil.config import parse_config
from vigil.demo.fleet import Fleet
from vigil.demo.run import run_demo


def test_headless_demo_runs_and_summarises(capsys: pytest.CaptureFixture[str]) -> None:
    before = {c.pid for c in psutil.Process().children(recursive=True)}  # the shared fleet, maybe
    status = run_demo(duration=10, headless=True, day_seconds=30, port=None)
    out = capsys.readouterr().out
    assert status == 0, out
    assert re.search(r"probes run: (\d+)", out) and int(re.search(r"probes run: (\d+)", out)[1]) >= 6, out
    for name in ("storefront", "catalog", "payments"):
        assert f"{name} (healthy)" in out, out
    assert re.search(r"health transitions seen: [1-9]", out), out
    assert re.search(r"samples stored: [1-9]", out), out
    load = re.search(r"load: (\d+) requests sent, (\d+) ok, (\d+) server errors, (\d+) failed", out)
    assert load and int(load[1]) > 10 and load[1] == load[2], out  # traffic reached the shop, all answered
    # storefront ran as replicas vigil started (0 -> 1 at start) and scaled, the ready count agreeing
    assert "storefront: 0 -> 1 replicas (CurrentBelowMin)" in out, out
    replicas = re.search(r"storefront replicas: (\d+) at the end \((\d+) ready(, a scaling step under way)?\)", out)
    assert replicas and int(replicas[1]) >= 1, out
    assert replicas[1] == replicas[2] or replicas[3], out  # they differ only while a step is under way
    assert {c.pid for c in psutil.Process().children(recursive=True)} <= before  # nothing left behind


@pytest.mark.parametrize("service, fault", [("payments", {"error_rate": 0.9}), ("catalog", {"hang": True})])
async def test_a_fault_fails_the_probe_within_two_intervals(fleet: Fleet, tmp_path, service: str,
                                                            fault: dict[str, object]) -> None:
    """The shared fleet, watched by an engine of its own with 1 s probes."""
    from vigil.app import build_app

    interval, slack = 1.0, 1.5
    config = parse_config(fleet.vigil_config(
        probe_interval_s=interval, probe_timeout_s=0.8, scrape_interval_s=interval,
        store_url=f"sqlite:///{tmp_path / 'vigil.db'}"))
    _, engine = build_app(config)
    await engine.start()
    admin = fleet.services[service].admin_url
    other = ({"catalog", "payments"} - {service}).pop()
    try:
        # generous: the engine's first pipeline pass may compile (numba) before probes settle
        await _until(lambda: set(engine.health().values()) == {"healthy"}, 30, engine.health)
        async with httpx.AsyncClient(timeout=5) as http:
            await http.post(admin, json=fault)
            try:
                t = time.monotonic()
                await _until(lambda: engine.health()[service] == "unhealthy", 2 * interval + slack,
                             engine.health)
                assert time.monotonic() - t <= 2 * interval + slack
                await _until(lambda: engine.health()["storefront"] == "unhealthy", 2 * interval + slack,
                             engine.health)  # it reports its dependency down
                assert engine.health()[other] == "healthy"
            finally:
                await http.delete(admin)
        await _until(lambda: set(engine.health().values()) == {"healthy"}, 3 * interval + 2, engine.health)
    finally:
        await engine.stop()
        store = getattr(engine, "store", None)
        if store is not None and hasattr(store, "close"):
            store.close()


async def _until(check, within_s: float, show) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"not within {within_s}s: {show()}"
        await asyncio.sleep(0.1)


def test_a_busy_port_is_refused_before_anything_starts(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        status = run_demo(duration=1, headless=True, day_seconds=30, port=busy.getsockname()[1])
    assert status == 1 and "in use" in capsys.readouterr().out
