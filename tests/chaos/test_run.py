"""Experiments run against the real demo services: the hypothesis before and after, a deviation, rollbacks
that always run, refusals, and the journal."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from tests.chaos.conftest import action, config_text, faults, plan, probe, run
from vigil.chaos.experiment import ExperimentError
from vigil.demo.fleet import Fleet


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def catalog_answers(url: str) -> dict:
    return {"type": "probe", "name": "catalog-answers", "tolerance": 200,
            "provider": {"type": "http", "url": url + "/health", "timeout": 3}}


def test_a_tolerated_fault_holds_and_the_journal_says_so(shop: Fleet, http: httpx.Client,
                                                               tmp_path: Path) -> None:
    catalog = shop.services["catalog"]
    exp = {
        "title": "catalog tolerates 50 ms",
        "steady-state-hypothesis": {"title": "catalog answers fast", "probes": [
            catalog_answers(catalog.url),
            probe("fast-enough", {"type": "range", "range": [0, 1000]}, "http_latency", url=catalog.url,
                  path="/health", requests=3)]},
        "method": [action("slow-down", "inject_latency", url=catalog.url, latency_ms=50),
                   probe("latency-during", None, "http_latency", url=catalog.url, path="/health", requests=3)],
        "rollbacks": [action("clear", "clear_faults", url=catalog.url)],
    }
    exp["method"][1].pop("tolerance")
    journal_path = tmp_path / "journal.json"
    lines: list[str] = []
    journal = run(plan(exp), journal_path, lines)

    assert journal.exit_status == 0
    data = json.loads(journal_path.read_text())
    assert data["status"] == "completed" and data["deviated"] is False
    for when in ("before", "after"):
        state = data["steady_states"][when]
        assert state["steady_state_met"] is True
        assert [p["activity"]["name"] for p in state["probes"]] == ["catalog-answers", "fast-enough"]
        assert all(p["tolerance_met"] and p["status"] == "succeeded" for p in state["probes"])
        assert state["probes"][0]["output"]["status"] == 200
    # the hypothesis after ran with the fault still in place: its latency shows it
    assert data["steady_states"]["before"]["probes"][1]["output"] < 50
    assert data["steady_states"]["after"]["probes"][1]["output"] >= 50
    assert [r["activity"]["name"] for r in data["run"]] == ["slow-down", "latency-during"]
    assert data["run"][0]["output"]["fault"]["latency_ms"] == 50
    assert data["run"][1]["output"] >= 50
    for record in data["run"] + data["rollbacks"]:
        assert set(record) >= {"activity", "status", "output", "start", "end", "duration"}
        assert record["status"] == "succeeded" and record["duration"] >= 0 and record["start"] <= record["end"]
    assert data["rollbacks"][0]["activity"]["name"] == "clear"
    assert data["experiment"]["title"] == "catalog tolerates 50 ms"
    assert data["start"] < data["end"] and data["duration"] > 0
    assert faults(http, shop, "catalog")["latency_ms"] == 0  # the rollback cleared it
    assert any("the system held" in line for line in lines)


def test_a_deviation_is_detected_and_the_rollback_restores(shop: Fleet, http: httpx.Client) -> None:
    catalog = shop.services["catalog"]
    exp = {
        "title": "catalog does not tolerate 60% errors",
        "steady-state-hypothesis": {"title": "catalog is healthy", "probes": [
            catalog_answers(catalog.url),
            probe("says-ok", "ok", "http_json_field", url=catalog.url, path="/health", field="status")]},
        "method": [action("errors", "inject_errors", url=catalog.url, error_rate=0.6)],
        "rollbacks": [action("clear", "clear_faults", url=catalog.url)],
    }
    journal = run(plan(exp))
    data = journal.data
    assert journal.exit_status == 1
    assert data["status"] == "failed" and data["deviated"] is True
    assert data["steady_states"]["before"]["steady_state_met"] is True
    after = data["steady_states"]["after"]
    assert after["steady_state_met"] is False
    assert [p["tolerance_met"] for p in after["probes"]] == [False, False]
    assert after["probes"][0]["output"]["status"] == 503
    assert after["probes"][1]["output"] == "erroring"
    assert "DEVIATED" in data["summary"] and "catalog-answers" in data["summary"]
    assert data["rollbacks"][0]["status"] == "succeeded"
    assert faults(http, shop, "catalog")["error_rate"] == 0
    assert http.get(catalog.health_url).status_code == 200


def test_a_failed_action_stops_the_method_and_the_rollbacks_still_run(shop: Fleet, http: httpx.Client) -> None:
    catalog = shop.services["catalog"]
    nowhere = f"http://127.0.0.1:{_closed_port()}"
    exp = {
        "title": "the second action fails",
        "steady-state-hypothesis": {"title": "catalog answers", "probes": [catalog_answers(catalog.url)]},
        "method": [action("slow-down", "inject_latency", url=catalog.url, latency_ms=300),
                   action("fails", "inject_errors", url=nowhere, error_rate=0.5),
                   action("never-runs", "inject_hang", url=catalog.url)],
        "rollbacks": [action("clear", "clear_faults", url=catalog.url),
                      action("clear-nowhere", "clear_faults", url=nowhere),
                      action("clear-again", "clear_faults", url=catalog.url)],
    }
    journal = run(plan(exp))
    data = journal.data
    assert journal.exit_status == 2
    assert data["status"] == "aborted" and data["deviated"] is False
    assert [r["activity"]["name"] for r in data["run"]] == ["slow-down", "fails"]
    assert data["run"][1]["status"] == "failed" and "ConnectError" in "".join(data["run"][1]["exception"])
    assert data["steady_states"]["after"] is None  # not checked: the fault was not injected as planned
    # every rollback ran, the one that failed included, and the one after it too
    assert [(r["activity"]["name"], r["status"]) for r in data["rollbacks"]] == [
        ("clear", "succeeded"), ("clear-nowhere", "failed"), ("clear-again", "succeeded")]
    assert faults(http, shop, "catalog") == {"latency_ms": 0.0, "error_rate": 0.0, "leak_mb_per_min": 0.0,
                                              "hang": False, "crash": False}


def test_the_method_does_not_run_when_the_steady_state_does_not_hold_before(
        shop: Fleet, http: httpx.Client) -> None:
    catalog = shop.services["catalog"]
    http.post(catalog.admin_url, json={"error_rate": 0.9})
    exp = {"title": "not normal to begin with",
           "steady-state-hypothesis": {"title": "catalog answers", "probes": [catalog_answers(catalog.url)]},
           "method": [action("slow-down", "inject_latency", url=catalog.url, latency_ms=100)],
           "rollbacks": [action("clear", "clear_faults", url=catalog.url)]}
    journal = run(plan(exp))
    assert journal.exit_status == 2
    assert journal.data["status"] == "failed" and journal.data["deviated"] is False
    assert journal.data["run"] == [] and journal.data["steady_states"]["after"] is None
    assert "did not hold before" in journal.data["summary"]
    assert journal.data["rollbacks"][0]["status"] == "succeeded"  # always


def test_a_service_that_does_not_allow_chaos_is_refused_and_left_alone(shop: Fleet, http: httpx.Client) -> None:
    exp = {"title": "inject into payments",
           "method": [action("errors", "inject_errors", service="payments", error_rate=0.5)],
           "rollbacks": [action("clear", "clear_faults", service="payments")]}
    with pytest.raises(ExperimentError) as err:
        plan(exp, config_text(shop, not_allowed=("payments",)))
    messages = [str(p) for p in err.value.problems]
    assert len(messages) == 2
    assert all("service 'payments' does not allow chaos" in m and "`chaos: allowed`" in m and
               f"services[{list(shop.services).index('payments')}].chaos" in m for m in messages), messages
    # by URL on its port, an action is refused too; a probe may still look
    payments = shop.services["payments"].url
    by_url = {"title": "by url", "method": [action("errors", "inject_errors", url=payments, error_rate=0.5)]}
    with pytest.raises(ExperimentError, match="service 'payments' does not allow chaos"):
        plan(by_url, config_text(shop, not_allowed=("payments",)))
    look = {"title": "look", "method": [{"type": "probe", "name": "look",
                                         "provider": {"type": "http", "url": payments + "/health"}}]}
    assert len(plan(look, config_text(shop, not_allowed=("payments",))).method) == 1
    assert faults(http, shop, "payments")["error_rate"] == 0
    # allowed, the same experiment plans
    assert len(plan(exp, config_text(shop)).method) == 1


def test_without_a_configuration_only_loopback_urls(shop: Fleet) -> None:
    far = {"title": "far", "method": [{"type": "probe", "name": "far",
                                       "provider": {"type": "http", "url": "http://192.0.2.10/health"}}]}
    with pytest.raises(ExperimentError, match="not on loopback"):
        plan(far)
    named = {"title": "named", "method": [action("errors", "inject_errors", service="catalog", error_rate=0.5)]}
    with pytest.raises(ExperimentError, match="no vigil configuration was given; pass -c vigil.yaml"):
        plan(named)
    local = {"title": "local", "method": [{"type": "probe", "name": "local",
                                           "provider": {"type": "http", "url": "http://localhost:9/health"}}]}
    assert plan(local).method[0].targets == ["GET http://localhost:9/health"]


def test_services_by_name_and_configuration_from_the_environment(shop: Fleet, http: httpx.Client) -> None:
    text = """
title: by name
configuration:
  target: {type: env, key: CHAOS_TARGET}
  ms: {type: env, key: CHAOS_MS, default: 40}
method:
  - type: action
    name: slow
    provider: {type: vigil, func: inject_latency, arguments: {service: "${target}", latency_ms: "${ms}"}}
  - type: probe
    name: check
    provider: {type: http, url: "${url}/admin/fault"}
rollbacks:
  - {type: action, name: clear, provider: {type: vigil, func: clear_faults, arguments: {service: "${target}"}}}
"""
    with pytest.raises(ExperimentError) as err:
        plan(text, config_text(shop), env={})
    problems = [str(p) for p in err.value.problems]
    assert any(":4:" in p and "CHAOS_TARGET is not set" in p for p in problems), problems
    assert any(":12:" in p and "${url} is not a configuration entry" in p for p in problems), problems
    text = text.replace('"${url}/admin/fault"', f'"{shop.services["payments"].admin_url}"')
    journal = run(plan(text, config_text(shop), env={"CHAOS_TARGET": "payments", "CHAOS_MS": "70"}))
    assert journal.data["run"][0]["output"]["fault"]["latency_ms"] == 70
    assert journal.data["run"][1]["output"]["body"]["fault"]["latency_ms"] == 70
    assert journal.data["experiment"]["method"][0]["provider"]["arguments"]["service"] == "${target}"
    assert faults(http, shop, "payments")["latency_ms"] == 0
