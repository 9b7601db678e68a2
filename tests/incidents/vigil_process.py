"""A real `vigil up` for end-to-end tests: a config file in a temporary folder, a free loopback port,
bounded waits, and stopping (SIGTERM) or killing (SIGKILL) only the process it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from vigil.demo.run import free_port

VIGIL = Path(sys.executable).parent / "vigil"
KEY = "e2e-key-0123456789abcdef"


def wait_until(predicate: Callable[[], Any], seconds: float, what: str, step: float = 0.2) -> Any:
    """Poll `predicate` until it returns something truthy (returned), or fail naming `what`."""
    deadline = time.monotonic() + seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            got = predicate()
            if got:
                return got
        except (httpx.HTTPError, OSError, KeyError, ValueError) as exc:
            last = exc
        time.sleep(step)
    raise AssertionError(f"{what}: not within {seconds:g} s" + (f" (last error: {last})" if last else ""))


class VigilProcess:
    def __init__(self, folder: Path, body: str, port: int | None = None) -> None:
        self.folder, self.port = folder, port or free_port()
        self.db = folder / "vigil.db"
        self.config = folder / "vigil.yaml"
        self.config.write_text(f'store: {{url: "sqlite:///{self.db}"}}\n'
                               f'server: {{port: {self.port}, api_keys: [{{name: e2e, key: "{KEY}"}}]}}\n' + body)
        self.log_path = folder / "vigil.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_within: float = 90) -> VigilProcess:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(VIGIL), "up", "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        log.close()
        wait_until(self._ready, ready_within, f"vigil up ready on {self.url}")
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"vigil up exited ({self.proc.returncode}):\n{self.log()[-3000:]}")
        return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def get(self, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
        r.raise_for_status()
        return r.json()

    def incidents(self) -> list[dict[str, Any]]:
        return list(self.get("/api/v1/incidents", status="all")["incidents"])

    def kill(self) -> None:
        """SIGKILL: no chance to write anything more."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
