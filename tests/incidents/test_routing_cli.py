"""`vigil routes test`: the receivers and route path of an alert, the tree, --verify-receivers."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from vigil.cli import app

CONFIG = """
alerting:
  route:
    receiver: default
    group_by: [alertname]
    routes:
    - matchers: [database=~"mysql|pg"]
      receiver: team-DB
      routes:
      - matchers: [severity=critical]
        receiver: team-DB-pager
    - matchers: [severity=critical]
      receiver: oncall
      continue: true
    - match_re: {service: "a.*"}
      receiver: svc
  receivers: [{name: default}, {name: team-DB}, {name: team-DB-pager}, {name: oncall}, {name: svc}]
"""


def run(tmp_path: Path, *args: str, config: str = CONFIG):  # type: ignore[no-untyped-def]
    (tmp_path / "vigil.yaml").write_text(config)
    return CliRunner().invoke(app, ["routes", "test", "-c", str(tmp_path / "vigil.yaml"), *args])


def test_receivers_first_then_each_route_path_and_group(tmp_path: Path) -> None:
    r = run(tmp_path, "alertname=Lag", "severity=critical", "service=abc")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()  # warnings (nothing is watched) go to stderr
    assert lines[0] == "oncall,svc"  # as amtool config routes test prints it
    assert lines[1] == '  oncall: (root) > {severity="critical"}'
    assert '{}/{severity="critical"}:{alertname="Lag"}' in lines[2]
    assert lines[3] == '  svc: (root) > {service=~"^(?:a.*)$"}'


def test_tree_marks_the_matched_routes(tmp_path: Path) -> None:
    r = run(tmp_path, "--tree", "database=pg", "severity=critical")
    assert r.exit_code == 0, r.output
    marked = [line for line in r.stdout.splitlines() if line.endswith("<-- matched")]
    assert len(marked) == 1 and "receiver: team-DB-pager" in marked[0]
    assert r.stdout.splitlines()[0].startswith("(root)  receiver: default")
    whole = run(tmp_path, "--tree")
    assert whole.exit_code == 0 and len(whole.stdout.splitlines()) == 5 and "matched" not in whole.stdout


def test_verify_receivers_and_bad_input(tmp_path: Path) -> None:
    assert run(tmp_path, "--verify-receivers", "team-DB", "database=mysql").exit_code == 0
    wrong = run(tmp_path, "--verify-receivers", "oncall", "database=mysql")
    assert wrong.exit_code == 1 and "expected receivers 'oncall', got 'team-DB'" in wrong.output
    pattern = run(tmp_path, "severity=~crit.*")
    assert pattern.exit_code == 2 and "name=value" in pattern.output
    none = run(tmp_path, "a=b", config="services: []\n")
    assert none.exit_code == 2 and "no alerting.route configured" in none.output
    bad = run(tmp_path, "a=b", config=CONFIG.replace("receiver: svc", "receiver: nobody"))
    assert bad.exit_code == 2 and "undefined receiver 'nobody'" in bad.output
