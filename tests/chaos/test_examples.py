"""The shipped experiments (examples/chaos/): each is valid, plans against the demo's configuration, is
refused when its services do not allow chaos, and the latency one holds, or deviates past the timeout."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.chaos.conftest import faults, write_config
from vigil.chaos.experiment import read_experiment
from vigil.cli import app
from vigil.demo.fleet import Fleet

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "chaos").glob("*.*"))


def test_there_are_examples_in_yaml_and_json() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"failover.yaml", "latency.yaml", "load-surge.yaml", "crash-recovery.yaml", "cpu-stress.json"} <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_each_example_plans_against_the_demo_and_is_refused_where_chaos_is_not_allowed(
        example: Path, shop: Fleet, tmp_path: Path) -> None:
    loaded = read_experiment(example, env={})
    assert loaded.experiment.title and loaded.experiment.method
    assert loaded.experiment.steady_state_hypothesis is not None
    runner = CliRunner()
    config = write_config(tmp_path, shop)
    result = runner.invoke(app, ["chaos", "run", str(example), "-c", str(config), "--dry-run"], env={})
    assert result.exit_code == 0, result.output
    assert "dry run: nothing was run" in result.output and "every target allowed" in result.output
    config = write_config(tmp_path, shop, not_allowed=tuple(shop.services))
    result = runner.invoke(app, ["chaos", "run", str(example), "-c", str(config), "--dry-run"], env={})
    acts = any(s["type"] == "action" and s["provider"]["type"] == "vigil" and s["provider"]["func"] != "stress_cpu"
               for s in loaded.written["method"])
    if acts:
        assert result.exit_code == 2 and "does not allow chaos experiments" in result.output, result.output
        assert "`chaos: allowed`" in result.output


@pytest.mark.slow
def test_the_latency_example_holds_then_deviates_past_the_timeout(shop: Fleet, http: httpx.Client,
                                                                   tmp_path: Path) -> None:
    example = next(p for p in EXAMPLES if p.name == "latency.yaml")
    config = write_config(tmp_path, shop)
    journal = tmp_path / "journal.json"
    args = ["chaos", "run", str(example), "-c", str(config), "--journal", str(journal)]
    result = CliRunner().invoke(app, args, env={})
    data = json.loads(journal.read_text())
    assert result.exit_code == 0, result.output
    assert data["run"][0]["output"]["fault"]["latency_ms"] == 300
    assert data["steady_states"]["after"]["probes"][1]["output"] >= 300  # storefront's p95 carries it
    assert faults(http, shop, "catalog")["latency_ms"] == 0

    result = CliRunner().invoke(app, args, env={"LATENCY_MS": "2500"})  # storefront gives catalog 2 s
    data = json.loads(journal.read_text())
    assert result.exit_code == 1, result.output
    assert data["deviated"] is True
    after = data["steady_states"]["after"]["probes"]
    assert after[0]["output"] == 502 and after[0]["tolerance_met"] is False
    assert "answered 502" in "".join(after[1]["exception"])
    assert data["rollbacks"][0]["status"] == "succeeded"
    assert faults(http, shop, "catalog")["latency_ms"] == 0
    assert http.get(shop.services["storefront"].url + "/").status_code == 200
