"""`vigil demo` with stdout piped (`make demo | tee log`): the API's address and key and every
service's fault URL arrive at once, while the demo runs, and each notable event arrives as a line
when it happens: here a fault injected through the printed URL shows up as a health change."""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow
VIGIL = Path(sys.executable).parent / "vigil"


def test_a_piped_demo_prints_the_api_and_events_as_they_happen() -> None:
    proc = subprocess.Popen([str(VIGIL), "demo", "--duration", "60", "--day", "30"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []

    def until(pattern: str, within_s: float) -> re.Match[str]:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            assert line is not None, "the demo ended before printing " + pattern + ":\n" + "\n".join(seen)
            seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no line matching {pattern!r} within {within_s}s:\n" + "\n".join(seen))

    try:
        api = until(r"^vigil API (http://127\.0\.0\.1:\d+)", 90)
        assert proc.poll() is None  # printed while running, not at the end
        key = until(r"^API key (\S+)", 5)[1]
        urls = {m[1]: m[2] for m in (until(rf"^\s+({name})\s+(http://\S+/admin/fault)", 5)
                                     for name in ("catalog", "payments", "storefront"))}
        assert httpx.get(api[1] + "/api/v1/services", headers={"Authorization": f"Bearer {key}"},
                         timeout=5).status_code == 200  # the printed key works
        until(r"payments: unknown -> healthy", 60)
        httpx.post(urls["payments"], json={"error_rate": 0.9}, timeout=5)
        try:
            until(r"payments: healthy -> unhealthy", 30)
            assert proc.poll() is None
        finally:
            httpx.delete(urls["payments"], timeout=5)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
