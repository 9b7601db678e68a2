"""`process`: real local replicas of a command (single-host installs and the demo).

Replicas share one port with SO_REUSEPORT (the command must set it on its socket, as demo_worker does)
so the kernel balances connections between them. Each gets PORT and VIGIL_REPLICA in its environment.
Scale-down stops the newest replicas first, gracefully: SIGTERM, then SIGKILL after stop_timeout.
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass, field

from vigil.act.actuators.base import ActuationError, ScaleResult
from vigil.config.scaling import ProcessActuatorConfig


@dataclass
class _Replica:
    proc: asyncio.subprocess.Process
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None


class ProcessActuator:
    kind = "process"

    def __init__(self, config: ProcessActuatorConfig, service: str = "") -> None:
        self.config = config
        self.service = service
        self._replicas: list[_Replica] = []
        self._lock = asyncio.Lock()

    async def scale(self, replicas: int, dry_run: bool = False) -> ScaleResult:
        async with self._lock:
            self._reap()
            before = len(self._replicas)
            if replicas < 0:
                raise ActuationError(f"cannot run {replicas} replicas", retryable=False)
            if dry_run or replicas == before:
                return ScaleResult(before, replicas, False, dry_run)
            while len(self._replicas) < replicas:
                self._replicas.append(await self._start(len(self._replicas)))
            stopping = self._replicas[replicas:]
            del self._replicas[replicas:]
            await asyncio.gather(*(self._stop(r) for r in reversed(stopping)))
            return ScaleResult(before, replicas, True, False)

    async def ready_replicas(self) -> int:
        self._reap()
        return sum(1 for r in self._replicas if r.ready.is_set() and r.proc.returncode is None)

    async def close(self) -> None:
        await self.scale(0)

    def pids(self) -> list[int]:
        return [r.proc.pid for r in self._replicas]

    # ------------------------------------------------------------------ internals
    def _reap(self) -> None:
        """Forget replicas that died on their own, so the next scale replaces them."""
        self._replicas = [r for r in self._replicas if r.proc.returncode is None]

    async def _start(self, index: int) -> _Replica:
        env = {**os.environ, **self.config.env, "VIGIL_REPLICA": str(index), "VIGIL_SERVICE": self.service}
        if self.config.port is not None:
            env["PORT"] = str(self.config.port)
        argv = [a.replace("{port}", str(self.config.port or "")) for a in self.config.command]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:  # missing binary, permissions: retrying will not help
            raise ActuationError(f"cannot start {argv[0]!r}: {exc}", retryable=False) from exc
        rep = _Replica(proc)
        rep.reader = asyncio.create_task(self._watch(rep))
        return rep

    async def _watch(self, rep: _Replica) -> None:
        """Mark ready on the ready line (or at once); keep draining stdout so the pipe never fills."""
        want = self.config.ready_line
        if want is None:
            rep.ready.set()
        assert rep.proc.stdout is not None
        while True:
            line = await rep.proc.stdout.readline()
            if not line:
                return
            if want is not None and line.decode(errors="replace").strip() == want:
                rep.ready.set()

    async def _stop(self, rep: _Replica) -> None:
        proc = rep.proc
        if proc.returncode is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                await asyncio.wait_for(proc.wait(), self.config.stop_timeout)
            except asyncio.TimeoutError:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                await proc.wait()
        if rep.reader is not None:
            try:
                await asyncio.wait_for(rep.reader, 1.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                rep.reader.cancel()
