"""CPU and memory stress on this machine: bounded child processes, each with its own deadline.

A stress child stops by itself at its deadline, or as soon as vigil chaos (its parent) is gone, and is
killed if the activity is cancelled (Ctrl-C, timeout), so no stress outlives the experiment."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from typing import Any

import psutil
from pydantic import Field, model_validator

from vigil.chaos.builtins import Context, Params, builtin

MAX_STRESS_S = 300.0
MAX_MEMORY_MB = 4096
_GRACE_S = 10.0  # beyond its own deadline, how long a child may take to report before it is killed

_CPU_CHILD = """
import os, sys, time
end, parent = time.monotonic() + float(sys.argv[1]), int(sys.argv[2])
while time.monotonic() < end and os.getppid() == parent:
    n = 0
    for _ in range(200000):
        n += 1
print(time.process_time(), flush=True)
"""

_MEMORY_CHILD = """
import os, sys, time
mb, end, parent = int(sys.argv[1]), time.monotonic() + float(sys.argv[2]), int(sys.argv[3])
block = bytearray(mb * 1024 * 1024)
for i in range(0, len(block), 4096):  # touch every page, so the memory is resident, not just reserved
    block[i] = 1
with open("/proc/self/statm") as f:
    print(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"), flush=True)
while time.monotonic() < end and os.getppid() == parent:
    time.sleep(0.1)
"""


async def _children(argvs: list[list[str]], deadline_s: float) -> list[str]:
    """Run the children to their end; each one's stdout. Killed on cancellation or overrun."""
    procs = [await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL, start_new_session=True) for argv in argvs]
    try:
        outs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), deadline_s + _GRACE_S)
    finally:
        for p in procs:
            if p.returncode is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                await p.wait()
    bad = [p.returncode for p in procs if p.returncode != 0]
    if bad:
        raise RuntimeError(f"a stress process exited with status {bad[0]}")
    return [o[0].decode(errors="replace").strip() for o in outs]


class _Stress(Params):
    duration_s: float = Field(gt=0, le=MAX_STRESS_S)

    def load(self) -> str:
        raise NotImplementedError

    def targets(self, scope: Any, what: str, acting: bool) -> list[str]:
        return [f"this machine's {self.load()} for {self.duration_s:g} s"]


def _bound(p: _Stress) -> float:
    return p.duration_s + 2 * _GRACE_S


class CpuStress(_Stress):
    workers: int = Field(1, ge=1, description="busy processes, one core each at most")

    @model_validator(mode="after")
    def _cores(self) -> "CpuStress":
        cores = os.cpu_count() or 1
        if self.workers > cores:
            raise ValueError(f"workers ({self.workers}) exceeds this machine's {cores} cores")
        return self

    def load(self) -> str:
        return f"CPU: {self.workers} busy process(es)"


@builtin(CpuStress, acts=True, bound_s=_bound)
async def stress_cpu(p: CpuStress, ctx: Context) -> dict[str, Any]:
    """Keep `workers` cores busy for duration_s."""
    start = time.monotonic()
    argv = [sys.executable, "-c", _CPU_CHILD, str(p.duration_s), str(os.getpid())]
    outs = await _children([argv] * p.workers, p.duration_s)
    elapsed = time.monotonic() - start
    cpu = [round(float(o), 3) for o in outs]
    return {"workers": p.workers, "duration_s": round(elapsed, 3), "cpu_s": cpu,
            "busy_fraction": round(sum(cpu) / (p.workers * elapsed), 3) if elapsed > 0 else 0.0}


class MemoryStress(_Stress):
    mb: int = Field(gt=0, le=MAX_MEMORY_MB, description="memory to allocate and hold")

    @model_validator(mode="after")
    def _fits(self) -> "MemoryStress":
        half = psutil.virtual_memory().available // (2 * 1024 * 1024)
        if self.mb > half:
            raise ValueError(f"mb ({self.mb}) is more than half of the memory available now ({half} MB)")
        return self

    def load(self) -> str:
        return f"memory: {self.mb} MB held"


@builtin(MemoryStress, acts=True, bound_s=_bound)
async def stress_memory(p: MemoryStress, ctx: Context) -> dict[str, Any]:
    """Allocate and hold `mb` megabytes for duration_s."""
    start = time.monotonic()
    argv = [sys.executable, "-c", _MEMORY_CHILD, str(p.mb), str(p.duration_s), str(os.getpid())]
    (out,) = await _children([argv], p.duration_s)
    return {"mb": p.mb, "resident_mb": round(int(out) / 2**20, 1) if out.isdigit() else None,
            "duration_s": round(time.monotonic() - start, 3)}
