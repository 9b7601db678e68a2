"""check-config reports every problem of a file in one pass: an unset ${VAR} does not hide the
schema's problems, schema problems do not hide the checks across services; an empty file is valid
but says that nothing is watched."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli import app
from vigil.config import ConfigError, ConfigProblem, load_config

NINE_PROBLEMS = """\
store:
  url: sqlite:///vigil.db
server:
  port: 99999
  api_keys:
    - name: ops
      key: ${VIGIL_TEST_SURELY_UNSET}
engine:
  max_concurency: 10
services:
  - name: Web
    depends_on: [nowhere]
    probes:
      - kind: http
        url: http://127.0.0.1/
        interval: soon
      - kind: tcp
        host: h
        port: 0
      - kind: gopher
  - name: db
    depends_on: [db]
"""


def problems_in(f: Path, text: str) -> list[ConfigProblem]:
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(f)
    return info.value.problems


def test_an_unset_variable_does_not_hide_other_problems(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIGIL_TEST_SURELY_UNSET", raising=False)
    f = tmp_path / "vigil.yaml"
    problems = problems_in(f, NINE_PROBLEMS)
    found = {(p.line, p.path) for p in problems}
    assert found == {
        (7, "server.api_keys[0].key"),  # the unset variable
        (4, "server.port"),
        (9, "engine.max_concurency"),
        (11, "services[0].name"),
        (16, "services[0].probes[0].interval"),
        (19, "services[0].probes[1].port"),
        (20, "services[0].probes[2].kind"),
        (12, "services[0].depends_on[0]"),  # checks across services, although the schema failed
        (22, "services[1].depends_on"),  # db -> db
    }, sorted(str(p) for p in problems)
    result = CliRunner().invoke(app, ["check-config", str(f)])
    assert result.exit_code == 2 and "(9 problems)" in result.output


def test_schema_errors_do_not_hide_dependency_checks(tmp_path: Path) -> None:
    messages = [str(p) for p in problems_in(tmp_path / "vigil.yaml", (
        "services:\n  - name: a\n    depends_on: [b]\n    probes: [{kind: tcp, host: h, port: 0}]\n"
        "  - name: b\n    depends_on: [a]\n  - name: a\n"))]
    assert any("probes[0].port" in m for m in messages)
    assert any("depends_on forms a cycle: a -> b -> a" in m for m in messages)
    assert any("duplicate service name 'a'" in m for m in messages)


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "services: []\n"])
def test_an_empty_file_is_valid_and_says_nothing_is_watched(tmp_path: Path, text: str) -> None:
    f = tmp_path / "vigil.yaml"
    f.write_text(text)
    result = CliRunner().invoke(app, ["check-config", str(f)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "nothing is watched" in out and "ok" in out and "0 services" in out


def test_a_service_with_nothing_to_collect_is_pointed_out(tmp_path: Path) -> None:
    f = tmp_path / "vigil.yaml"
    f.write_text("services:\n  - name: pushed-only\n")
    result = CliRunner().invoke(app, ["check-config", str(f)])
    out = " ".join(result.output.split())
    assert result.exit_code == 0 and "'pushed-only' has no probes and no metrics" in out
