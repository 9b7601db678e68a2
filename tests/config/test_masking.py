"""Secrets never print: not in check-config's errors (a URL with a password, a key or header value
of the wrong type, a value from ${ENV}), not in log lines, not in the banner of `vigil up`."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from vigil.cli import app
from vigil.config import parse_config
from vigil.config.redact import Redactor, mask, secret_values
from vigil.runner import configure_logging

PW = "Pa55-w0rd-xyz-0123"

LEAKY = """\
store:
  url: postgres://vig:${DB_PW}@127.0.0.1/db
server:
  api_keys:
    - name: ops
      key: 918273645
services:
  - name: web
    probes:
      - kind: http
        url: ftp://probe:hunter2hunter2@127.0.0.1/
        headers: {Authorization: 55555555, X-Token: [a-secret-token]}
    metrics:
      - kind: scrape
        url: http://scrape:scrape-pw@127.0.0.1:9/metrics
        interval: soon
"""


def test_check_config_errors_never_show_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "vigil.yaml"
    f.write_text(LEAKY)
    monkeypatch.setenv("DB_PW", PW)
    result = CliRunner().invoke(app, ["check-config", str(f)])
    out = result.output
    assert result.exit_code == 2
    for secret in (PW, "918273645", "hunter2hunter2", "55555555", "a-secret-token", "scrape-pw"):
        assert secret not in out, f"{secret} printed:\n{out}"
    # ...while each problem is still there, at its key, with what was found where that is safe.
    flat = " ".join(out.split())
    assert "store.url:" in flat and "postgres://vig:***@127.0.0.1/db" in flat
    assert ("server.api_keys[0].key: Input should be a valid string; "
            "found a number (a secret: not shown)") in flat
    assert "ftp://probe:***@127.0.0.1/" in flat
    assert "headers.Authorization" in flat and "headers.X-Token" in flat
    assert "services[0].metrics[0].interval" in flat and "'soon'" in flat


def test_a_value_from_the_environment_is_shown_as_written() -> None:
    text = "server:\n  port: ${PORT}\n"
    with pytest.raises(Exception) as info:
        parse_config(text, env={"PORT": "eighty"})
    assert "found 'eighty' (from '${PORT}')" in str(info.value)


@pytest.mark.parametrize("text,shown", [
    ("postgresql+psycopg://vig:s3cr3t@db:5432/x", "postgresql+psycopg://vig:***@db:5432/x"),
    ("see http://u:p%40ss@h/ and https://a:b@c/d", "see http://u:***@h/ and https://a:***@c/d"),
    ("postgres://u:p@ss@h/db", "postgres://u:***@h/db"),  # an '@' in the password
    ("https://ghp_0123456789abcdefghij@github.com/x", "https://***@github.com/x"),  # a token as user
    ("postgresql://vigil@db/x", "postgresql://vigil@db/x"),  # a user name alone is no secret
    ("GET /q?user=a&password=hunter2&token=abc", "GET /q?user=a&password=***&token=***"),
])
def test_mask(text: str, shown: str) -> None:
    assert mask(text) == shown


def test_mask_is_linear_on_hostile_text() -> None:
    import time

    hostile = "://" + "a" * 200_000 + " " + "x=" * 100_000 + "://@" * 50_000
    started = time.perf_counter()
    mask(hostile, {"abc"})
    assert time.perf_counter() - started < 0.5


def test_every_secret_of_a_config_is_known() -> None:
    cfg = parse_config("""
store: {url: "postgresql+psycopg://vig:db%2Fpw@h/x"}
server: {api_keys: [{name: a, key: key-one-1234-5678}]}
services:
  - name: w
    probes: [{kind: http, url: "http://u:probe-pw@h/", headers: {Authorization: Bearer tok-999}}]
""", env={})
    assert {"db%2Fpw", "db/pw", "key-one-1234-5678", "probe-pw", "Bearer tok-999"} <= secret_values(cfg)


def test_log_lines_and_tracebacks_are_masked() -> None:
    cfg = parse_config(f"server: {{api_keys: [{{name: a, key: {PW}}}]}}\n", env={})
    out = io.StringIO()
    configure_logging("info", Console(file=out, width=300), cfg)
    log = logging.getLogger("vigil.test")
    try:
        log.warning("connecting to %s with key %s", "postgresql://vig:dbpass@h/x", PW)
        try:
            raise RuntimeError(f"failed with {PW}")
        except RuntimeError:
            log.exception("it broke")
        logging.getLogger("uvicorn.error").error("key %s", PW)
    finally:
        logging.basicConfig(force=True, handlers=[logging.NullHandler()])
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).filters.clear()
    text = out.getvalue()
    assert PW not in text and "dbpass" not in text
    assert "postgresql://vig:***@h/x" in text and "it broke" in text and "RuntimeError" in text


def test_redactor_ignores_trivially_short_values() -> None:
    assert Redactor({"1"})("port 1001") == "port 1001"


def test_a_process_that_configured_no_logging_is_masked_too() -> None:
    import subprocess
    import sys

    code = ("import logging; from vigil.config.redact import Redactor, install_log_masking; "
            f"install_log_masking(Redactor({{'{PW}'}})); "
            f"logging.getLogger('vigil').warning('key %s', '{PW}')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                            check=False)
    assert result.returncode == 0 and result.stderr.strip() == "key ***", result.stderr
