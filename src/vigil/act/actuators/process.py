"""`process`: real local replicas of a command (single-host installs and the demo).

Replicas share one port with SO_REUSEPORT (the command must set it on its socket, as demo_worker does)
so the kernel balances connections between them. Each gets PORT and VIGIL_REPLICA in its environment.
Scale-down stops the newest replicas first, gracefully: SIGTERM, then SIGKILL after stop_timeout.
A replica that exits on its own is replaced, as a ReplicaSet would: after RESTART_BACKOFF_S, doubled
for each exit within QUICK_EXIT_S of its start, up to MAX_BACKOFF_S (a crash loop does not spin).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from dataclasses import dataclass, field

from vigil.act.actuators.base import ActuationError, ActuatorBase, ActuatorNote, ScaleResult
from vigil.config.scaling import ProcessActuatorConfig

log = logging.getLogger("vigil.actuators.process")

RESTART_BACKOFF_S = 1.0
QUICK_EXIT_S = 10.0
MAX_BACKOFF_S = 30.0


@dataclass
class _Replica:
    proc: asyncio.subprocess.Process
    index: int
    started: float = field(default_factory=time.monotonic)
    quick_exits: int = 0  # consecutive exits soon after start, in this slot
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None


class ProcessActuator(ActuatorBase):
    kind = "process"

    def __init__(self, config: ProcessActuatorConfig, service: str = "") -> None:
        self.config = config
        self.service = service
        self._replicas: list[_Replica] = []  # one per replica asked for, running or being replaced
        self._lock = asyncio.Lock()
        self._restarts: set[asyncio.Task[None]] = set()
        self._closing = asyncio.Event()
        self.restarts = 0  # replicas replaced after exiting on their own
        self._notes: list[ActuatorNote] = []  # each replacement, for the engine's record
        self._argv = list(config.command)
        self.versions: list[list[str]] = []  # commands deployed before the current one, oldest first

    async def scale(self, replicas: int, dry_run: bool = False) -> ScaleResult:
        async with self._lock:
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
        return sum(1 for r in self._replicas if r.ready.is_set() and r.proc.returncode is None)

    async def requested_replicas(self) -> int:
        """The count asked for (spec.replicas): replicas being replaced count."""
        return len(self._replicas)

    async def close(self) -> None:
        self._closing.set()  # wakes pending replacements, which then stand down
        await asyncio.gather(*self._restarts, return_exceptions=True)
        await self.scale(0)

    def drain_notes(self) -> list[ActuatorNote]:
        notes, self._notes = self._notes, []
        return notes

    async def restart(self, replicas: int | None = None, at_once: int = 1) -> int:
        """Restart `replicas` replicas (default all), oldest first and gracefully: each new one is
        started and ready (or past ready_timeout) before the old one gets SIGTERM, `at_once` at a time,
        so the service never runs fewer replicas than asked. Returns how many were restarted."""
        async with self._lock:
            chosen = list(self._replicas[: replicas if replicas is not None else len(self._replicas)])
            for start in range(0, len(chosen), max(1, at_once)):
                wave = chosen[start:start + max(1, at_once)]
                fresh = [await self._start(old.index) for old in wave]
                await asyncio.gather(*(self._ready(r) for r in fresh))
                for old, new in zip(wave, fresh, strict=True):
                    self._replicas[self._replicas.index(old)] = new
                await asyncio.gather(*(self._stop(old) for old in wave))
            return len(chosen)

    async def deploy(self, command: list[str]) -> int:
        """Run a new version (its command), keeping the current one to roll back to."""
        self.versions.append(self._argv)
        self._argv = list(command)
        return await self.restart()

    async def rollback_version(self) -> int:
        """Back to the command run before the last deploy, restarting every replica on it."""
        if not self.versions:
            raise ActuationError("no previous version to roll back to", retryable=False)
        self._argv = self.versions.pop()
        return await self.restart()

    async def _ready(self, rep: _Replica) -> None:
        try:
            await asyncio.wait_for(rep.ready.wait(), self.config.ready_timeout)
        except TimeoutError:
            log.warning("%s: restarted replica %d not ready after %gs", self.service, rep.index,
                        self.config.ready_timeout)

    def pids(self) -> list[int]:
        return [r.proc.pid for r in self._replicas if r.proc.returncode is None]

    # ------------------------------------------------------------------ internals
    async def _start(self, index: int) -> _Replica:
        env = {**os.environ, **self.config.env, "VIGIL_REPLICA": str(index), "VIGIL_SERVICE": self.service}
        if self.config.port is not None:
            env["PORT"] = str(self.config.port)
        argv = [a.replace("{port}", str(self.config.port or "")) for a in self._argv]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:  # missing binary, permissions: retrying will not help
            raise ActuationError(f"cannot start {argv[0]!r}: {exc}", retryable=False) from exc
        rep = _Replica(proc, index)
        rep.reader = asyncio.create_task(self._watch(rep))
        return rep

    async def _watch(self, rep: _Replica) -> None:
        """Mark ready on the ready line (or at once); keep draining stdout so the pipe never fills;
        when the replica exits and is still wanted, have it replaced."""
        want = self.config.ready_line
        if want is None:
            rep.ready.set()
        assert rep.proc.stdout is not None
        while True:
            line = await rep.proc.stdout.readline()
            if not line:
                break
            if want is not None and line.decode(errors="replace").strip() == want:
                rep.ready.set()
        await rep.proc.wait()
        if rep in self._replicas and not self._closing.is_set():
            task = asyncio.create_task(self._replace(rep))
            self._restarts.add(task)
            task.add_done_callback(self._restarts.discard)

    async def _replace(self, dead: _Replica) -> None:
        quick = dead.quick_exits + 1 if time.monotonic() - dead.started < QUICK_EXIT_S else 0
        delay = min(MAX_BACKOFF_S, RESTART_BACKOFF_S * 2 ** quick)
        log.warning("%s: replica %d (pid %d) exited with status %s; replacing it in %gs",
                    self.service, dead.index, dead.proc.pid, dead.proc.returncode, delay)
        try:
            await asyncio.wait_for(self._closing.wait(), delay)
        except TimeoutError:
            pass
        async with self._lock:
            if dead not in self._replicas or self._closing.is_set():
                return  # scaled away meanwhile
            inputs = {"replica": dead.index, "pid": dead.proc.pid, "exit_status": dead.proc.returncode,
                      "backoff_s": delay, "quick_exits": quick}
            exited = f"replica {dead.index} (pid {dead.proc.pid}) exited with status {dead.proc.returncode}"
            try:
                new = await self._start(dead.index)
            except ActuationError as exc:
                log.warning("%s: could not replace replica %d: %s", self.service, dead.index, exc)
                self._notes.append(ActuatorNote("replace_replica", f"{exited}; could not replace it: {exc}",
                                                inputs, {"replaced": False, "error": str(exc)}))
                return
            new.quick_exits = quick
            self._replicas[self._replicas.index(dead)] = new
            self.restarts += 1
            self._notes.append(ActuatorNote("replace_replica", f"{exited}; replaced by pid {new.proc.pid} after "
                                            f"{delay:g}s", inputs, {"replaced": True, "pid": new.proc.pid}))

    async def _stop(self, rep: _Replica) -> None:
        proc = rep.proc
        if proc.returncode is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                await asyncio.wait_for(proc.wait(), self.config.stop_timeout)
            except TimeoutError:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                await proc.wait()
        if rep.reader is not None:
            try:
                await asyncio.wait_for(rep.reader, 1.0)
            except (TimeoutError, asyncio.CancelledError):
                rep.reader.cancel()
