"""`vigil report KIND -c vigil.yaml [--format] [--out]`: read from the store the config names."""

from __future__ import annotations

import time
from pathlib import Path

from typer.testing import CliRunner

from vigil.cli import app
from vigil.incidents.model import Incident, IncidentStatus, Member
from vigil.model import Severity
from vigil.store import open_store


def setup(tmp_path: Path) -> Path:
    db = tmp_path / "v.db"
    now = time.time()
    store = open_store(f"sqlite:///{db}")
    inc = Incident(
        1,
        "payments: PaymentsDown",
        IncidentStatus.RESOLVED,
        Severity.CRITICAL,
        "payments",
        now - 3600,
        now - 3000,
        ["payments"],
        resolved_at=now - 3000,
    )
    store.write_incidents(
        [inc], [Member(1, "f", "PaymentsDown", "payments", "critical", now - 3600, "new")], []
    )
    store.close()
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(
        f"store: {{url: 'sqlite:///{db}'}}\n"
        "services: [{name: payments, sla: 99.9, downtime_cost_per_minute: 2.5}]\n"
    )
    return cfg


def test_markdown_to_stdout_and_html_to_a_file(tmp_path: Path) -> None:
    cfg = setup(tmp_path)
    runner = CliRunner()
    md = runner.invoke(app, ["report", "daily", "-c", str(cfg)])
    assert md.exit_code == 0, md.output
    assert md.stdout.startswith("# Daily report: ")  # the config warning goes to stderr
    assert "| payments | 1 | — | — | 10m | 0 min | 99.306% (below 99.9%) | 10 min | 25.00 |" in md.stdout
    out = tmp_path / "weekly.html"
    page = runner.invoke(app, ["report", "weekly", "-c", str(cfg), "--format", "html", "--out", str(out)])
    assert page.exit_code == 0, page.output
    assert out.read_text().startswith("<!DOCTYPE html>") and "<svg" in out.read_text()


def test_bad_arguments_exit_2_and_say_what_is_allowed(tmp_path: Path) -> None:
    cfg = setup(tmp_path)
    runner = CliRunner()
    bad = runner.invoke(app, ["report", "monthly", "-c", str(cfg)])
    assert bad.exit_code == 2 and "daily|weekly|executive" in bad.output
    late = runner.invoke(app, ["report", "daily", "-c", str(cfg), "--at", "tomorrow"])
    assert late.exit_code == 2 and "invalid time 'tomorrow'" in late.output
