"""`vigil chaos run` from the command line: what it prints and its exit status when nothing may run."""

from __future__ import annotations

from pathlib import Path

import httpx
import yaml
from typer.testing import CliRunner

from tests.chaos.conftest import action, faults, write_config
from vigil.cli import app
from vigil.demo.fleet import Fleet


def _experiment(tmp_path: Path, service: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump({
        "title": "errors", "method": [action("errors", "inject_errors", service=service, error_rate=0.5)],
        "rollbacks": [action("clear", "clear_faults", service=service)]}))
    return path


def test_a_refused_experiment_runs_nothing_and_says_which_key_to_set(shop: Fleet, http: httpx.Client,
                                                                     tmp_path: Path) -> None:
    config = write_config(tmp_path, shop, not_allowed=("payments",))
    journal = tmp_path / "journal.json"
    result = CliRunner().invoke(app, ["chaos", "run", str(_experiment(tmp_path, "payments")), "-c", str(config),
                                      "--journal", str(journal)])
    assert result.exit_code == 2
    assert "the experiment cannot run (2 problems; nothing was run)" in result.output
    assert "service 'payments' does not allow chaos experiments" in result.output
    assert f"set `chaos: allowed` on it in {config}" in result.output
    assert not journal.exists()
    assert faults(http, shop, "payments")["error_rate"] == 0


def test_dry_run_shows_the_plan_and_runs_nothing(shop: Fleet, http: httpx.Client, tmp_path: Path) -> None:
    config = write_config(tmp_path, shop)
    result = CliRunner().invoke(app, ["chaos", "run", str(_experiment(tmp_path, "payments")), "-c", str(config),
                                      "--dry-run", "--journal", str(tmp_path / "j.json")])
    assert result.exit_code == 0, result.output
    assert f"action 'errors', at most 5 s: service payments at {shop.services['payments'].url}" in result.output
    assert "rollbacks (always run):" in result.output and "dry run: nothing was run" in result.output
    assert not (tmp_path / "j.json").exists()
    assert faults(http, shop, "payments")["error_rate"] == 0


def test_an_unwritable_journal_stops_the_run_before_it_starts(shop: Fleet, http: httpx.Client,
                                                              tmp_path: Path) -> None:
    config = write_config(tmp_path, shop)
    result = CliRunner().invoke(app, ["chaos", "run", str(_experiment(tmp_path, "payments")), "-c", str(config),
                                      "--journal", str(tmp_path / "no" / "such" / "j.json")])
    assert result.exit_code == 2 and "cannot write the journal" in result.output
    assert faults(http, shop, "payments")["error_rate"] == 0


def test_an_invalid_configuration_is_reported_as_check_config_does(tmp_path: Path) -> None:
    bad = tmp_path / "vigil.yaml"
    bad.write_text("services:\n  - name: web\n    chaos: sure\n")
    result = CliRunner().invoke(app, ["chaos", "run", str(_experiment(tmp_path, "web")), "-c", str(bad)])
    assert result.exit_code == 2 and "services[0].chaos" in result.output
