"""Probes of what vigil says, against a real vigil (engine and API server on loopback) watching the demo
fleet: the steady state is "vigil says catalog is healthy, with no incident and its scrape up"; 60% errors
in catalog must turn that into a deviation that vigil itself reports."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.chaos.conftest import API_KEY, action, faults, plan, probe, run
from vigil.config import parse_config
from vigil.demo.fleet import Fleet
from vigil.runner import run_server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def vigil(shop: Fleet, tmp_path: Path) -> Iterator[str]:
    """vigil up, in a thread, on the fleet's configuration (probes and scrapes every second); its config text."""
    text = shop.vigil_config(server_port=_free_port(), api_key=API_KEY, store_url=f"sqlite:///{tmp_path / 'v.db'}",
                             probe_interval_s=1, probe_timeout_s=1, scrape_interval_s=1)
    cfg = parse_config(text, env={})
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    thread = threading.Thread(target=loop.run_until_complete,
                              args=(run_server(cfg, on_ready=lambda url: ready.set(), stop=stop),), daemon=True)
    thread.start()
    try:
        assert ready.wait(60), "vigil did not start"
        base = f"http://127.0.0.1:{cfg.server.port}"
        deadline = time.monotonic() + 60
        up = f'up{{service="catalog",instance="{shop.services["catalog"].metrics_url}"}}'
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}, trust_env=False) as c:
            # steady before the experiment looks: catalog healthy, nothing firing about it, and 5 s of
            # successful scrapes (an earlier test may have left it just restarted, its first scrape failing)
            while not _steady(c, up):
                assert time.monotonic() < deadline, "vigil never saw catalog steady"
                time.sleep(0.2)
        yield text
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


def _steady(c: httpx.Client, up: str) -> bool:
    if c.get("/api/v1/services/catalog").json()["health"] != "healthy":
        return False
    if c.get("/api/v1/alerts", params={"state": "firing", "service": "catalog"}).json().get("alerts"):
        return False
    if c.get("/api/v1/incidents", params={"status": "active", "service": "catalog"}).json().get("incidents"):
        return False
    values = c.get("/api/v1/query", params={"series": up, "start": "-6s", "end": "now",
                                            "resolution": "raw"}).json().get("values", [])
    return len(values) >= 4 and min(values) == 1.0


@pytest.mark.slow
def test_vigil_reports_the_deviation(vigil: str, shop: Fleet, http: httpx.Client) -> None:
    catalog = shop.services["catalog"]
    up = f'up{{service="catalog",instance="{catalog.metrics_url}"}}'
    exp = {
        "title": "vigil sees catalog's errors",
        "steady-state-hypothesis": {"title": "vigil says catalog is fine", "probes": [
            probe("healthy", "healthy", "service_health", service="catalog"),
            probe("no-incident", False, "incident_open", service="catalog"),
            probe("no-alerts", 0, "alerts_firing", service="catalog"),
            probe("scraped", {"type": "range", "range": [1, 1]}, "metric", series=up, window_s=5,
                  aggregate="min")]},
        "method": [action("errors", "inject_errors", {"after": 4}, service="catalog", error_rate=0.6)],
        "rollbacks": [action("clear", "clear_faults", service="catalog")],
    }
    journal = run(plan(exp, vigil))
    data = journal.data
    before = data["steady_states"]["before"]
    assert before["steady_state_met"] is True, before
    assert [p["output"] for p in before["probes"]] == ["healthy", False, 0, 1.0]
    assert journal.exit_status == 1 and data["deviated"] is True
    after = {p["activity"]["name"]: p for p in data["steady_states"]["after"]["probes"]}
    assert after["healthy"]["output"] == "unhealthy" and not after["healthy"]["tolerance_met"]
    assert after["no-incident"]["output"] is True and not after["no-incident"]["tolerance_met"]
    assert after["no-alerts"]["output"] >= 1
    assert faults(http, shop, "catalog")["error_rate"] == 0
    assert API_KEY not in journal.text()


def test_vigil_probes_need_an_address_and_a_key(shop: Fleet) -> None:
    from vigil.chaos.experiment import ExperimentError

    exp = {"title": "t", "method": [probe("healthy", None, "service_health", service="catalog")]}
    exp["method"][0].pop("tolerance")
    with pytest.raises(ExperimentError, match="reads vigil's API, but its address or key is unknown"):
        plan(exp)
    exp["configuration"] = {"vigil_url": "http://192.0.2.7:8080", "vigil_api_key": "k" * 20}
    with pytest.raises(ExperimentError, match="not on loopback"):
        plan(exp)
    exp["configuration"]["vigil_url"] = "http://127.0.0.1:8080"
    assert plan(exp).method[0].targets == ["vigil's API at http://127.0.0.1:8080"]
