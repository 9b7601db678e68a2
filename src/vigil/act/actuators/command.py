"""`command`: any command with the replica count as an argument (`{replicas}`, `{service}` in argv).

Exit 0 is success; exit 75 (EX_TEMPFAIL) and a timeout are worth retrying, any other exit is not.
`status_command` prints the ready count; without it the last count the command accepted is reported.
"""

from __future__ import annotations

import asyncio

from vigil.act.actuators.base import ActuationError, ActuatorBase, ScaleResult
from vigil.config.scaling import CommandActuatorConfig

EX_TEMPFAIL = 75


class CommandActuator(ActuatorBase):
    kind = "command"

    def __init__(self, config: CommandActuatorConfig, service: str = "") -> None:
        self.config = config
        self.service = service
        self._set: int | None = None

    def _argv(self, argv: list[str], replicas: int) -> list[str]:
        return [a.replace("{replicas}", str(replicas)).replace("{service}", self.service) for a in argv]

    async def scale(self, replicas: int, dry_run: bool = False) -> ScaleResult:
        before = self._set
        if before is None and self.config.status_command:
            before = await self.ready_replicas()
        if before == replicas:
            return ScaleResult(before, replicas, False, dry_run, "already at this count")
        argv = self._argv(self.config.command, replicas)
        if dry_run:
            return ScaleResult(before if before is not None else -1, replicas, False, True,
                               f"would run {argv}")
        code, out = await self._run(argv)
        if code != 0:
            raise ActuationError(f"{argv[0]} exited {code}: {out[-200:]}", retryable=code == EX_TEMPFAIL)
        self._set = replicas
        return ScaleResult(before if before is not None else -1, replicas, True)

    async def ready_replicas(self) -> int:
        if not self.config.status_command:
            if self._set is None:
                raise ActuationError("no status_command and nothing set yet: ready count unknown", False)
            return self._set
        argv = self._argv(self.config.status_command, self._set or 0)
        code, out = await self._run(argv)
        if code != 0:
            raise ActuationError(f"status command exited {code}", retryable=code == EX_TEMPFAIL)
        try:
            return int(out.strip().split()[-1])
        except (ValueError, IndexError):
            raise ActuationError(f"status command printed {out.strip()[:80]!r}, not a count", False) from None

    async def _run(self, argv: list[str]) -> tuple[int, str]:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT)
        except OSError as exc:
            raise ActuationError(f"cannot run {argv[0]!r}: {exc}", retryable=False) from None
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), self.config.timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise ActuationError(f"{argv[0]} timed out after {self.config.timeout:g}s",
                                 retryable=True) from None
        return int(proc.returncode or 0), out.decode(errors="replace")
