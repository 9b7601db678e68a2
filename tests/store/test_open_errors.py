"""A store that cannot be opened is one line saying what and how to fix it, never a traceback and
never the password: from open_store, and from `vigil up` as a real process (exit status 1)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from vigil.demo.run import free_port
from vigil.store import StoreUnavailable, open_store
from vigil.store.db import unavailable

VIGIL = Path(sys.executable).parent / "vigil"
PW = "pw-Zq81-secret"


def run_up(tmp_path: Path, store_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f'store: {{url: "{store_url}"}}\nserver: {{port: {free_port()}}}\n'
                   "services:\n  - name: web\n    probes: [{kind: tcp, host: 127.0.0.1, port: 9}]\n")
    return subprocess.run([str(VIGIL), "up", "-c", str(cfg)], capture_output=True, text=True, timeout=60,
                          check=False, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env})


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("warning:")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_an_unreachable_database_is_one_line_and_exit_1(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    result = run_up(tmp_path, f"postgresql+psycopg://vigil:${{DB_PW}}@127.0.0.1:{port}/vigil", DB_PW=PW)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "Traceback" not in result.stderr + result.stdout and PW not in result.stderr + result.stdout
    assert f"postgresql+psycopg://vigil:***@127.0.0.1:{port}/vigil" in line
    assert "Connection refused" in line and "is PostgreSQL running" in line and "store.url" in line


def test_a_sqlite_file_in_a_missing_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="folder in store.url exists and is writable"):
        open_store(f"sqlite:///{tmp_path}/no/such/folder/vigil.db")


@pytest.mark.postgres
def test_a_missing_database_says_how_to_create_it() -> None:
    with pytest.raises(StoreUnavailable) as info:
        open_store(f"postgresql+psycopg://postgres:{PW}@127.0.0.1:5432/vigil_surely_missing_db")
    text = str(info.value)
    assert "\n" not in text and PW not in text
    assert 'database "vigil_surely_missing_db" does not exist' in text and "createdb" in text


def test_a_refused_password_names_the_setting() -> None:
    # The local server trusts every connection, so a wrong password cannot be provoked for real:
    # this is the error psycopg raises for one, through the same translation.
    import psycopg

    message = ('connection failed: connection to server at "127.0.0.1", port 5432 failed: '
               'FATAL:  password authentication failed for user "vig"')
    exc = sa.exc.OperationalError("connect", {}, psycopg.OperationalError(message))
    text = str(unavailable(exc, f"postgresql+psycopg://vig:{PW}@127.0.0.1:5432/x"))
    assert PW not in text and "vig:***@" in text
    assert text.endswith('password authentication failed for user "vig"; '
                         "check the user and password in store.url")


@pytest.mark.slow
@pytest.mark.postgres
def test_the_banner_of_vigil_up_masks_the_password(tmp_path: Path, pg_url: str) -> None:
    url = pg_url.replace("postgres@", "postgres:${DB_PW}@")  # trust auth: any password is accepted
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f'store: {{url: "{url}"}}\nserver: {{port: {free_port()}}}\n'
                   "services:\n  - name: web\n    probes: [{kind: tcp, host: 127.0.0.1, port: 9}]\n")
    proc = subprocess.Popen([str(VIGIL), "up", "-c", str(cfg)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DB_PW": PW})
    banner = []
    try:
        deadline = time.monotonic() + 90
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            banner.append(line)
            if not line or line.startswith("watching"):
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    text = "".join(banner) + out + err
    assert "watching 1 service; store postgresql+psycopg://postgres:***@127.0.0.1:5432/" in text, text
    assert PW not in text
    assert "Context impl" not in text and "Running upgrade" not in text  # no migration chatter


def test_migrating_at_start_up_logs_nothing(tmp_path: Path) -> None:
    import io
    import logging

    from rich.console import Console

    from vigil.config import parse_config
    from vigil.runner import configure_logging

    out = io.StringIO()
    configure_logging("info", Console(file=out, width=200), parse_config("", env={}))
    try:
        logging.getLogger("vigil").info("vigil starting")
        open_store(f"sqlite:///{tmp_path / 'fresh.db'}").close()  # a fresh file: every migration runs
    finally:
        logging.basicConfig(force=True, handlers=[logging.NullHandler()])
        logging.getLogger("alembic").setLevel(logging.NOTSET)
    text = out.getvalue()
    assert "vigil starting" in text
    assert "Running upgrade" not in text and "Context impl" not in text, text
