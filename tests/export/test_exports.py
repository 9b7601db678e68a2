"""`vigil export prometheus-rules` and `vigil export grafana`, checked by Prometheus' own promtool:
the rule file is valid, the burn-rate alerts fire (and only those) when the SLI goes bad, and every
expression of the dashboard parses."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from vigil.config import load_config, parse_config
from vigil.export.cli import export_app
from vigil.export.grafana import dashboard, expressions
from vigil.export.prometheus_rules import render

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "tests/config/fixtures/good/rules.yaml"  # every rule kind, every SLO kind
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian prometheus) is not installed; "
                                                             "scripts/test-services.sh installs it")


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


@needs_promtool
def test_rules_pass_promtool_check(tmp_path: Path) -> None:
    out = tmp_path / "vigil-rules.yml"
    result = CliRunner().invoke(export_app, ["prometheus-rules", "-c", str(RULES), "-o", str(out)])
    assert result.exit_code == 0, result.output
    checked = promtool("check", "rules", str(out), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    groups = yaml.safe_load(out.read_text())["groups"]
    names = [g["name"] for g in groups]
    assert names == ["slo-checkout-availability", "slo-checkout-health", "slo-checkout-fast", "vigil-rules",
                     "vigil-self"]
    health = next(g for g in groups if g["name"] == "slo-checkout-health")
    # 7d SLO with two configured burn rates: windows 5m, 1h, 2h, 1d and the 7d budget window
    assert [r["record"] for r in health["rules"] if "record" in r] == [
        f"slo:sli_error:ratio_rate{w}" for w in ("5m", "1h", "2h", "1d", "7d")]
    alerts = [r for r in health["rules"] if "alert" in r]
    assert [(a["labels"]["long_window"], a["labels"]["short_window"], a["labels"]["severity"]) for a in alerts] == [
        ("1h", "5m", "critical"), ("1d", "2h", "warning")]
    assert "> 0.072 and" in alerts[0]["expr"]  # 14.4 x the 0.5 % budget
    thresholds = {r["alert"]: r for r in groups[3]["rules"]}
    assert thresholds["P99Slow"]["expr"] == 'latency_ms{quantile="0.99",service="checkout"} > 300'
    assert thresholds["P99Slow"]["for"] == "2m"


UNIT_TEST = """
rule_files: [vigil-rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'http_requests_total:rate{service="checkout",code="200"}'
        values: '10x30 0x60'
      - series: 'http_requests_total:rate{service="checkout",code="500"}'
        values: '0x30 10x60'
    alert_rule_test:
      - eval_time: 20m
        alertname: SLOBurnRateAvailability
        exp_alerts: []
      - eval_time: 50m
        alertname: SLOBurnRateAvailability
        exp_alerts:
%s
"""


@needs_promtool
def test_fast_burn_fires_when_every_request_fails(tmp_path: Path) -> None:
    """From minute 30 every request fails: by minute 50 the error ratio is 100 % over 5m and 30m and
    over half over 1h and 6h, so all three burn-rate alerts fire; before, none does."""
    rules = yaml.safe_load(render(load_config(RULES)))
    for group in rules["groups"]:  # the description carries the live value: the summary is what is compared
        for rule in group["rules"]:
            rule.get("annotations", {}).pop("description", None)
    (tmp_path / "vigil-rules.yml").write_text(yaml.safe_dump(rules))
    expected = []
    for long, short, severity in (("1h", "5m", "critical"), ("6h", "30m", "critical"), ("3d", "6h", "warning")):
        factor = {"1h": "14.4", "6h": "6", "3d": "1"}[long]
        expected.append(
            f"          - exp_labels: {{service: checkout, slo: availability, severity: {severity}, "
            f"long_window: {long}, short_window: {short}}}\n"
            f"            exp_annotations:\n"
            f"              summary: 'checkout: SLO availability (99.9 % over 30d) burns its error budget "
            f"{factor}x too fast over {long} and {short}'")
    text = UNIT_TEST % "\n".join(expected)
    (tmp_path / "test.yml").write_text(text)
    run = promtool("test", "rules", "test.yml", cwd=tmp_path)
    assert run.returncode == 0 and "SUCCESS" in run.stdout, run.stdout + run.stderr
    # and the check bites: expecting no alert at minute 50 fails
    (tmp_path / "test.yml").write_text(UNIT_TEST % "          []")
    assert promtool("test", "rules", "test.yml", cwd=tmp_path).returncode != 0


@needs_promtool
def test_every_dashboard_expression_parses(tmp_path: Path) -> None:
    exprs = expressions(load_config(RULES))
    assert len(exprs) >= 15
    as_rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr{i}", "expr": e} for i, e in enumerate(exprs)]}]}
    (tmp_path / "d.yml").write_text(yaml.safe_dump(as_rules))
    checked = promtool("check", "rules", "d.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_dashboard_has_self_panels_and_one_row_per_slo(tmp_path: Path) -> None:
    out = tmp_path / "dash.json"
    result = CliRunner().invoke(export_app, ["grafana", "-c", str(RULES), "-o", str(out)])
    assert result.exit_code == 0, result.output
    board = json.loads(out.read_text())
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert rows == ["vigil", "checkout: SLO availability (99.9 % over 30d)", "checkout: SLO health (99.5 % over 7d)",
                    "checkout: SLO fast (99 % over 30d)"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    assert {t["datasource"]["uid"] for p in board["panels"] for t in p.get("targets", [])} == {"${datasource}"}
    text = out.read_text()
    assert "vigil_event_loop_lag_seconds" in text and 'slo:sli_error:ratio_rate30d{service=\\"checkout\\"' in text


def test_no_slo_config_still_exports_vigils_own() -> None:
    cfg = parse_config("services: [{name: web}]\n", env={})
    assert [p["title"] for p in dashboard(cfg)["panels"] if p["type"] == "row"] == ["vigil"]
    assert [g["name"] for g in yaml.safe_load(render(cfg))["groups"]] == ["vigil-self"]
