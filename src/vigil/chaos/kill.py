"""Kill a replica: a process of this user serving a service's port on this machine.

The replicas of a configured service are the processes listening on its port (its `process` actuator's
port, or the port of its probe's URL); with a `process` actuator, only those running the actuator's command.
A `pid` or a `command` (argv words that must appear in order) names a process directly; it must be this
user's, serve a TCP port (a service, not any program), and never be vigil chaos itself or its parents; with
a vigil.yaml it must serve one of its services, and that service must allow chaos."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from typing import Any, Literal
from urllib.parse import urlsplit

import psutil
from pydantic import Field, model_validator

from vigil.chaos.builtins import Context, Params, builtin
from vigil.chaos.scope import ChaosRefused, Scope, ServiceTarget


def _listening_ports(proc: psutil.Process) -> set[int]:
    try:
        return {c.laddr.port for c in proc.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN}
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return set()


def _protected() -> set[int]:
    """This process and its ancestors: an experiment never kills what runs it."""
    me = psutil.Process()
    return {me.pid, *(p.pid for p in me.parents())}


def _ours(proc: psutil.Process) -> bool:
    try:
        return proc.uids().real == os.getuid() and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _contains(cmdline: list[str], words: list[str]) -> bool:
    n = len(words)
    return any(cmdline[i:i + n] == words for i in range(len(cmdline) - n + 1))


def listeners(port: int) -> list[psutil.Process]:
    """This user's processes listening on TCP `port`, oldest first."""
    pids = {c.pid for c in psutil.net_connections(kind="tcp")
            if c.pid and c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port}
    procs = [psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)]
    return sorted((p for p in procs if _ours(p)), key=lambda p: (p.create_time(), p.pid))


def service_replicas(target: ServiceTarget) -> list[psutil.Process]:
    port = target.replica_port
    if port is None and target.base_url is not None:
        parts = urlsplit(target.base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    if port is None:
        return []
    procs = listeners(port)
    if target.replica_command:
        want = list(target.replica_command)
        procs = [p for p in procs if _cmdline(p)[1:] == want[1:]]
    return procs


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


class Replica(Params):
    service: str | None = Field(None, description="a configured service: one of its replicas")
    pid: int | None = Field(None, ge=2)
    command: list[str] | None = Field(None, min_length=1, description="argv words, in order, of the process")

    @model_validator(mode="after")
    def _one(self) -> "Replica":
        if sum(x is not None for x in (self.service, self.pid, self.command)) != 1:
            raise ValueError("give exactly one of service, pid or command")
        return self

    def candidates(self, scope: Scope, what: str, acting: bool) -> list[psutil.Process]:
        if self.service is not None:
            return service_replicas(scope.service(self.service, acting, what))
        if self.pid is not None:
            procs = [psutil.Process(self.pid)] if psutil.pid_exists(self.pid) else []
        else:
            assert self.command is not None
            procs = [p for p in psutil.process_iter() if _ours(p) and _contains(_cmdline(p), self.command)]
        protected = _protected()
        out = []
        for proc in procs:
            if not _alive(proc):
                continue
            if proc.pid in protected:
                raise ChaosRefused(f"{what}: pid {proc.pid} runs this experiment (or is its parent)")
            ports = _listening_ports(proc)
            if not _ours(proc) or not ports:
                raise ChaosRefused(f"{what}: pid {proc.pid} is not a service of this user (a process of "
                                   f"yours listening on a TCP port); vigil chaos kills only those")
            owners = [o for o in (scope.service_on_port(port) for port in ports) if o is not None]
            if acting and scope.config is not None and not owners:
                raise ChaosRefused(f"{what}: pid {proc.pid} serves no service of {scope.file} (it listens on "
                                   f"{', '.join(map(str, sorted(ports)))}); with a vigil.yaml, only replicas of "
                                   f"its services are killed")
            for owner in owners if acting else []:
                scope.require_allowed(owner, what)
            out.append(proc)
        return sorted(out, key=lambda p: (p.create_time(), p.pid))


class Kill(Replica):
    which: Literal["oldest", "newest", "random", "all"] = Field(
        "oldest", description="oldest: the first started (the primary)")
    count: int = Field(1, ge=1, le=100)
    signal: Literal["SIGKILL", "SIGTERM", "SIGINT"] = "SIGKILL"
    wait_s: float = Field(5.0, ge=0, le=60, description="how long to wait for the processes to be gone")
    seed: int | None = None

    def targets(self, scope: Scope, what: str, acting: bool) -> list[str]:
        if self.service is not None:
            target = scope.service(self.service, acting, what)
            return [f"{self.which} replica of service {target.name} ({self.signal})"]
        if self.pid is not None and psutil.pid_exists(self.pid):
            self.candidates(scope, what, acting)  # refuse now what would be refused later
        return [f"pid {self.pid} ({self.signal})" if self.pid else f"process running {' '.join(self.command or [])}"]


@builtin(Kill, acts=True, bound_s=lambda p: p.wait_s + 10.0)
async def kill_replica(p: Kill, ctx: Context) -> dict[str, Any]:
    """Kill a replica of a service (or a pid, or a process by its command) and wait until it is gone."""
    procs = await asyncio.to_thread(p.candidates, ctx.scope, ctx.what, True)
    if not procs:
        raise RuntimeError(f"{ctx.what}: no running process matches (nothing was killed)")
    if p.which == "all":
        chosen = procs
    elif p.which == "random":
        chosen = random.Random(p.seed).sample(procs, min(p.count, len(procs)))
    else:
        chosen = procs[:p.count] if p.which == "oldest" else procs[::-1][:p.count]
    sig = signal.Signals[p.signal]
    killed = []
    for proc in chosen:
        killed.append({"pid": proc.pid, "command": " ".join(_cmdline(proc))[:300],
                       "ports": sorted(_listening_ports(proc))})
        try:
            proc.send_signal(sig)
        except psutil.NoSuchProcess:
            pass
    deadline = time.monotonic() + p.wait_s
    alive = list(chosen)
    while alive and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        alive = [q for q in alive if _alive(q)]
    return {"killed": killed, "signal": p.signal, "gone": not alive,
            "remaining": [q.pid for q in procs if q not in chosen]}


class Count(Replica):
    pass


@builtin(Count, acts=False, bound_s=10.0)
async def replicas(p: Count, ctx: Context) -> int:
    """How many replicas (processes serving the port) a service has now."""
    return len(await asyncio.to_thread(p.candidates, ctx.scope, ctx.what, False))
