"""Command-probe children must not outlive vigil, even when vigil is killed with SIGKILL.

Two mechanisms, because neither covers everything alone:
- On Linux each child gets a parent-death signal (prctl PR_SET_PDEATHSIG = SIGKILL): the kernel
  kills it the moment the thread that started it (vigil's event loop thread) ends, however it ends.
- That signal reaches only the direct child, not what the child started (`sh -c "sleep 3600 &"`).
  Every child therefore carries `VIGIL_PROBE_OWNER=<vigil pid>:<its start time>` in its environment,
  inherited by everything it starts; at start-up vigil finds processes of its own user whose owner
  is no longer running and kills them (`reap_orphans`). Pid plus start time names one process for
  the life of the machine, so a reused pid is never mistaken for the owner.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("vigil.sources")

OWNER_ENV = "VIGIL_PROBE_OWNER"
_PROC = Path("/proc")
_PR_SET_PDEATHSIG = 1


def start_time(pid: int, proc: Path = _PROC) -> int | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), or None."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


@dataclass(frozen=True)
class Owner:
    pid: int
    started: int

    def __str__(self) -> str:
        return f"{self.pid}:{self.started}"

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        pid, _, started = text.partition(":")
        if not (pid.isdigit() and started.isdigit()):
            return None
        return cls(int(pid), int(started))

    def alive(self, proc: Path = _PROC) -> bool:
        return start_time(self.pid, proc) == self.started


_me: Owner | None = None


def this_process() -> Owner | None:
    global _me
    if _me is None or _me.pid != os.getpid():  # read once per process (a fork is a new process)
        started = start_time(os.getpid())
        _me = None if started is None else Owner(os.getpid(), started)
    return _me


def child_environment() -> dict[str, str]:
    """The environment a command probe runs with: vigil's own, plus the owner mark."""
    env = dict(os.environ)
    me = this_process()
    if me is not None:
        env[OWNER_ENV] = str(me)
    return env


def _pdeathsig() -> Callable[[], None] | None:
    """A preexec function setting the parent-death signal, resolved here (in the parent) so the
    child, between fork and exec, only makes one foreign call."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    sig = int(signal.SIGKILL)

    def set_pdeathsig() -> None:
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return set_pdeathsig


DIE_WITH_PARENT = _pdeathsig()


def _owner_of(pid: int, proc: Path) -> Owner | None:
    try:
        environ = (proc / str(pid) / "environ").read_bytes()
    except OSError:  # gone, or another user's process
        return None
    mark = OWNER_ENV.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(mark):
            return Owner.parse(entry[len(mark):].decode("ascii", "replace"))
    return None


def _parent(pid: int, proc: Path) -> int | None:
    try:
        stat = (proc / str(pid) / "stat").read_text()
        return int(stat[stat.rfind(")") + 2:].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _lineage(proc: Path) -> set[int]:
    """This process and its ancestors: never reaped, even if a dead vigil's probe started them."""
    out, pid = set(), os.getpid()
    while pid and pid not in out:
        out.add(pid)
        pid = _parent(pid, proc) or 0
    return out


def find_orphans(proc: Path = _PROC) -> dict[int, Owner]:
    """Processes carrying an owner mark whose owner is no longer running: pid -> dead owner."""
    mine = _lineage(proc)
    found: dict[int, Owner] = {}
    try:
        entries = [int(p.name) for p in proc.iterdir() if p.name.isdigit()]
    except OSError:
        return found
    alive: dict[Owner, bool] = {}
    for pid in entries:
        if pid in mine:
            continue
        owner = _owner_of(pid, proc)
        if owner is None:
            continue
        if owner not in alive:
            alive[owner] = owner.alive(proc)
        if not alive[owner]:
            found[pid] = owner
    return found


def reap_orphans(proc: Path = _PROC) -> int:
    """Kill (SIGKILL) what command probes of a vigil that has died left running; returns how many."""
    killed: dict[int, Owner] = {}
    for pid, owner in find_orphans(proc).items():
        if _kill_if_still(pid, owner, proc):
            killed[pid] = owner
    if killed:
        owners = ", ".join(sorted({str(o.pid) for o in killed.values()}))
        log.warning("killed %d command-probe process(es) left running by a vigil that died (pid %s)",
                    len(killed), owners)
    return len(killed)


def _kill_if_still(pid: int, owner: Owner, proc: Path) -> bool:
    """Kill `pid` only if it is still the process that carries the mark (pidfd: no pid-reuse race)."""
    try:
        fd = os.pidfd_open(pid)
    except (OSError, AttributeError):
        fd = None
    try:
        if _owner_of(pid, proc) != owner:
            return False
        if fd is not None:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
        return True
    except (ProcessLookupError, PermissionError):
        return False
    finally:
        if fd is not None:
            os.close(fd)
