"""Every config fixture is asserted: good ones load, bad ones fail with the expected file, line,
key path and message (written in the fixture's first line as `# expect: LINE: TEXT`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli import app
from vigil.config import ConfigError, load_config

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = sorted((FIXTURES / "good").glob("*.yaml"))
BAD = sorted((FIXTURES / "bad").glob("*.yaml"))


def expectation(path: Path) -> tuple[int, str]:
    m = re.match(r"# expect: (\d+): (.*)", path.read_text().splitlines()[0])
    assert m, f"{path.name} must start with '# expect: LINE: TEXT'"
    return int(m.group(1)), m.group(2).strip()


def test_fixture_folders_are_not_empty() -> None:
    assert len(GOOD) >= 3 and len(BAD) >= 10


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_config_loads(path: Path) -> None:
    load_config(path)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_config_names_file_line_and_key(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIGIL_TEST_UNSET_SECRET", raising=False)
    line, text = expectation(path)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    rendered = [str(p) for p in info.value.problems]
    wanted = f"{path}:{line}:"
    assert any(r.startswith(wanted) and text in r for r in rendered), \
        f"expected a problem starting {wanted!r} containing {text!r}; got {rendered}"


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_check_config_exits_2_on_bad_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIGIL_TEST_UNSET_SECRET", raising=False)
    result = CliRunner().invoke(app, ["check-config", str(path)])
    assert result.exit_code == 2
    line, _ = expectation(path)
    assert f"{path.name}:{line}" in result.output.replace("\n", "")


def test_check_config_ok_on_good_file() -> None:
    result = CliRunner().invoke(app, ["check-config", str(GOOD[0])])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    f = tmp_path / "vigil.yaml"
    f.write_text("services:\n  - name: web\n    probes:\n      - kind: tcp\n        host: h\n"
                 "        port: 0\n        interval: soon\n")
    with pytest.raises(ConfigError) as info:
        load_config(f)
    paths = {p.path for p in info.value.problems}
    assert {"services[0].probes[0].port", "services[0].probes[0].interval"} <= paths


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")
