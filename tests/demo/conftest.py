from __future__ import annotations

from collections.abc import Iterator

import httpx
import psutil
import pytest

from vigil.demo.fleet import Fleet


@pytest.fixture(scope="package")  # stopped when the demo tests are done, not at session end
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """The three services without load, so tests can count requests exactly. Shared: a test that
    injects a fault clears it, and one that crashes a service restarts it."""
    with Fleet(tmp_path_factory.mktemp("fleet"), load=False, leak_cap_mb=48, seed=7) as f:
        yield f
        pids = [m.pid for m in f.services.values()]
    # stop() leaves no process behind
    assert not set(pids) & {c.pid for c in psutil.Process().children(recursive=True)}
    assert not [p for p in pids if psutil.pid_exists(p)]


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client
