"""The CI and set-up scripts end no process by name (another engineer's, or the system's, could be
hit), install the Debian packages the tests need, and do nothing when all is there already."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = [ROOT / ".ci" / "run", *sorted((ROOT / "scripts").glob("*.sh"))]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_no_process_is_ended_by_name(script: Path) -> None:
    text = script.read_text()
    assert not re.search(r"\b(pkill|killall)\b", text), f"{script.name} ends processes by name"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True, check=False).returncode == 0


def test_the_packages_later_tests_need_are_installed_by_the_script() -> None:
    text = (ROOT / "scripts" / "test-services.sh").read_text()
    for package in ("prometheus", "prometheus-alertmanager", "chromium"):
        assert re.search(rf"\b{package}:", text), f"{package} is not installed by test-services.sh"


def test_the_set_up_is_quick_and_quiet_when_nothing_is_missing() -> None:
    missing = subprocess.run(["bash", str(ROOT / "scripts" / "test-services.sh"), "--missing"],
                             capture_output=True, text=True, timeout=30, check=False)
    assert missing.returncode == 0
    if missing.stdout.strip():
        pytest.skip(f"not installed here yet: {missing.stdout.split()} (`make services` installs them)")
    started = time.monotonic()
    run = subprocess.run(["bash", str(ROOT / "scripts" / "test-services.sh")], capture_output=True, text=True,
                         timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert "installing" not in run.stdout and time.monotonic() - started < 10
