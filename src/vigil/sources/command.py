"""Command probe: run an argv (no shell), pass when it exits with the expected status in time; on a
timeout the whole process group is killed so nothing it started lingers. If vigil itself is killed,
the child dies with it and what the child started is killed at vigil's next start (orphans.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import time

from vigil.config.sources import CommandProbe
from vigil.model import ProbeResult
from vigil.sources.base import Collection, short
from vigil.sources.orphans import DIE_WITH_PARENT, child_environment

OUTPUT_LIMIT = 64 * 1024


class CommandProbeCollector:
    kind = "command"

    def __init__(self, service: str, name: str, spec: CommandProbe, http: object = None) -> None:
        self.service, self.name, self.spec = service, name, spec
        self.interval, self.timeout = spec.interval, spec.timeout

    async def collect(self, now: float) -> Collection:
        started = time.perf_counter()
        values: dict[str, float] = {}
        try:
            ok, detail, code = await self._run()
            if code is not None:
                values["exit_code"] = float(code)
        except Exception as exc:  # a probe never raises
            ok, detail = False, f"{type(exc).__name__} running {self.spec.command[0]}: {exc}"
        latency = time.perf_counter() - started
        result = ProbeResult(self.service, self.name, now, ok, latency, short(detail), values)
        return Collection(self.service, self.name, now, probe=result)

    async def _run(self) -> tuple[bool, str, int | None]:
        argv = self.spec.command
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True, env=child_environment(),
                preexec_fn=DIE_WITH_PARENT)
        except FileNotFoundError:
            return False, f"command not found: {argv[0]}", None
        except PermissionError:
            return False, f"command not executable: {argv[0]}", None
        try:
            output, _ = await asyncio.wait_for(proc.communicate(), self.spec.timeout)
        except (TimeoutError, asyncio.CancelledError) as exc:
            await _kill(proc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return False, f"{argv[0]} timed out after {self.spec.timeout:g}s (killed)", None
        code = proc.returncode if proc.returncode is not None else -1
        last = _last_line(output[-OUTPUT_LIMIT:])
        if code == self.spec.expect_exit:
            return True, f"{argv[0]} exited {code}" + (f": {last}" if last else ""), code
        return False, (f"{argv[0]} exited {code}, expected {self.spec.expect_exit}"
                       + (f": {last}" if last else "")), code


async def _kill(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: kill what it started too
    except ProcessLookupError:
        pass
    except PermissionError:
        proc.kill()
    try:
        await asyncio.wait_for(proc.wait(), 2.0)
    except TimeoutError:
        pass


def _last_line(output: bytes) -> str:
    lines = [ln for ln in output.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""
