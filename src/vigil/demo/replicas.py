"""What the replicas of one demo service share, so they look like one service from outside.

Replicas share a port (SO_REUSEPORT), so any request, a scrape or a fault included, reaches one of
them only. Two shared things make that work:

- metrics: prometheus_client's multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, the gunicorn way). Each
  replica writes its values to files in that folder and whichever replica answers `/metrics` serves
  the sum over all of them, so counters count the whole service. Gauges say how they combine
  (`livemax`: the worst live replica), and the files of replicas that are gone are swept at scrape.
- faults: a small JSON file. `POST /admin/fault` on any replica writes it and every replica reads it
  within `FAULT_POLL_S`, so a fault set through the shared port reaches all of them. A crash is an
  event, not a state: the file counts crashes, and a replica exits when the count passes the one it
  saw at start (a replica started later does not crash again).
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, multiprocess

from vigil.demo.faults import Fault

FAULT_POLL_S = 0.25
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def multiprocess_dir() -> str | None:
    """The shared metrics folder when this process is one replica of several."""
    return os.environ.get(MULTIPROC_ENV) or None


def shared_registry(path: str) -> CollectorRegistry:
    """A registry that collects every replica's values (built per scrape, as the docs advise)."""
    sweep_dead(path)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return registry


def sweep_dead(path: str) -> None:
    """Drop the live-gauge files of replicas that exited without saying so (a crash, a SIGKILL)."""
    for name in glob.glob(os.path.join(path, "gauge_live*.db")):
        m = _LIVE_FILE.search(os.path.basename(name))
        if m and not _alive(int(m[1])):
            multiprocess.mark_process_dead(int(m[1]), path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not reaped yet) still answers kill(0); it serves nothing.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def resident_bytes() -> float:
    """This process's resident memory, as prometheus_client's ProcessCollector reads it."""
    with open("/proc/self/statm") as f:
        return float(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_gauge(registry: CollectorRegistry) -> Gauge:
    # Replaces ProcessCollector (which would show whichever replica answered): the largest replica.
    return Gauge("process_resident_memory_bytes", "Resident memory of the largest live replica",
                 registry=registry, multiprocess_mode="livemax")


class SharedFaults:
    """The fault file of a replicated service: written by whichever replica is asked, read by all."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._mtime: int | None = None
        self.crashes_seen = self._read()[1]  # crashes before this replica started are history

    def _read(self) -> tuple[Fault, int]:
        try:
            data = json.loads(self.path.read_text())
            return Fault().merged(data.get("fault", {})), int(data.get("crashes", 0))
        except (OSError, ValueError):
            return Fault(), 0

    def write(self, fault: Fault) -> None:
        """Publish `fault` to every replica; `crash` is counted as one more crash, not kept."""
        _, crashes = self._read()
        knobs = fault.as_dict()
        knobs["crash"] = False
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"fault": knobs, "crashes": crashes + int(fault.crash)}))
        os.replace(tmp, self.path)  # readers see the old file or the new one, never half of one

    def changed(self) -> tuple[Fault, bool] | None:
        """(the fault now, whether a crash was asked for since the last look), if the file changed."""
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return None
        if mtime == self._mtime:
            return None
        self._mtime = mtime
        fault, crashes = self._read()
        crashed = crashes > self.crashes_seen
        self.crashes_seen = max(self.crashes_seen, crashes)
        return fault, crashed


async def follow_faults(shared: SharedFaults, apply: Callable[[Fault], None], crash: Callable[[], None],
                        every_s: float = FAULT_POLL_S) -> None:
    """Apply the shared fault whenever the file changes; crash when another replica was told to."""
    while True:
        seen = shared.changed()
        if seen is not None:
            fault, crashed = seen
            apply(fault)
            if crashed:
                crash()
        await asyncio.sleep(every_s)
