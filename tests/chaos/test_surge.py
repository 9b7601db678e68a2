"""The load surge: its phases send what they say, each request is counted in its phase, and the latency
percentiles are those of the requests really sent (a 30 ms fault shows in every one of them)."""

from __future__ import annotations

import httpx
import pytest

from tests.chaos.conftest import action, faults, plan, run
from vigil.chaos.experiment import ExperimentError
from vigil.chaos.surge import Surge, SurgeProfile, latency_summary, percentile
from vigil.demo.fleet import Fleet


def test_percentiles_are_nearest_rank() -> None:
    ordered = [float(x) for x in range(1, 101)]
    assert [percentile(ordered, q) for q in (50, 90, 95, 99, 100)] == [50, 90, 95, 99, 100]
    assert percentile([7.0], 99) == 7.0
    summary = latency_summary([0.003, 0.001, 0.002])
    assert summary == {"p50_ms": 2.0, "p90_ms": 3.0, "p95_ms": 3.0, "p99_ms": 3.0, "max_ms": 3.0}
    assert latency_summary([])["p99_ms"] is None


def test_the_profile_follows_the_phases() -> None:
    surge = Surge(url="http://127.0.0.1:1", warmup={"rps": 5, "duration_s": 2},
                  ramp={"from_rps": 10, "to_rps": 30, "duration_s": 4}, spike={"rps": 100, "duration_s": 1})
    profile = SurgeProfile(surge.parts())
    assert profile.duration_s == 7
    assert [(p.name, p.start_s, p.end_s) for p in profile.phases] == [
        ("warmup", 0, 2), ("ramp", 2, 6), ("spike", 6, 7)]
    assert profile.rate(1.0) == 5 and profile.rate(2.0) == 10 and profile.rate(4.0) == 20
    assert profile.rate(6.5) == 100


def test_a_surge_is_bounded() -> None:
    with pytest.raises(ValueError, match="at least one phase"):
        Surge(url="http://127.0.0.1:1")
    with pytest.raises(ValueError, match="at most 600 s"):
        Surge(url="http://127.0.0.1:1", sustain={"rps": 1, "duration_s": 400}, spike={"rps": 1, "duration_s": 300})
    with pytest.raises(ValueError, match="at most 200,000"):
        Surge(url="http://127.0.0.1:1", sustain={"rps": 900, "duration_s": 300})
    with pytest.raises(ExperimentError, match="not on loopback"):
        plan({"title": "far", "method": [action("surge", "load_surge", url="http://192.0.2.1",
                                                spike={"rps": 1, "duration_s": 1})]})


@pytest.mark.slow
def test_phases_and_percentiles_against_a_real_service(shop: Fleet, http: httpx.Client) -> None:
    catalog = shop.services["catalog"]
    before = http.get(catalog.metrics_url).text.count("\n")  # the service answers before the surge
    assert before > 0
    exp = {
        "title": "surge on a slow catalog",
        "method": [
            action("slow", "inject_latency", url=catalog.url, latency_ms=30),
            action("surge", "load_surge", url=catalog.url, seed=5,
                   requests=[{"path": "/products", "weight": 3}, {"path": "/products/1", "weight": 1}],
                   warmup={"rps": 10, "duration_s": 1.5}, ramp={"from_rps": 10, "to_rps": 40, "duration_s": 1.5},
                   sustain={"rps": 40, "duration_s": 1.5}, spike={"rps": 80, "duration_s": 1})],
        "rollbacks": [action("clear", "clear_faults", url=catalog.url)],
    }
    journal = run(plan(exp))
    assert journal.exit_status == 0, journal.data["summary"]
    out = journal.data["run"][1]["output"]
    phases = out["phases"]
    assert list(phases) == ["warmup", "ramp", "sustain", "spike"]
    expected = {"warmup": 15, "ramp": 37.5, "sustain": 60, "spike": 80}
    for name, phase in phases.items():
        # Poisson arrivals: within 4 standard deviations of the phase's expected count
        n = expected[name]
        assert abs(phase["sent"] - n) <= 4 * n ** 0.5 + 2, (name, phase)
        assert phase["ok"] == phase["answered"] == phase["sent"] - phase["dropped"] - phase["cut_off"]
        assert phase["failures"] == 0 and phase["server_errors"] == 0
        assert 30 <= phase["p50_ms"] <= phase["p90_ms"] <= phase["p95_ms"] <= phase["p99_ms"] <= phase["max_ms"]
    assert phases["ramp"]["from_rps"] == 10 and phases["ramp"]["to_rps"] == 40
    assert phases["spike"]["target_rps"] == 80 and phases["spike"]["start_s"] == 4.5
    assert phases["sustain"]["sent"] > phases["warmup"]["sent"]
    total = out["total"]
    assert total["sent"] == sum(p["sent"] for p in phases.values())
    assert total["answered"] == sum(p["answered"] for p in phases.values())
    assert total["p50_ms"] >= 30 and total["max_ms"] == max(p["max_ms"] for p in phases.values())
    assert faults(http, shop, "catalog")["latency_ms"] == 0
