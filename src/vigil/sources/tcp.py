"""TCP probe: can a connection be opened within the timeout."""

from __future__ import annotations

import asyncio
import time

from vigil.config.sources import TcpProbe
from vigil.model import ProbeResult
from vigil.sources.base import Collection, short


class TcpProbeCollector:
    kind = "tcp"

    def __init__(self, service: str, name: str, spec: TcpProbe, http: object = None) -> None:
        self.service, self.name, self.spec = service, name, spec
        self.interval, self.timeout = spec.interval, spec.timeout

    async def collect(self, now: float) -> Collection:
        target = f"{self.spec.host}:{self.spec.port}"
        started = time.perf_counter()
        ok = False
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(self.spec.host, self.spec.port),
                                               self.spec.timeout)
            ok, detail = True, f"connected to {target}"
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            except (TimeoutError, OSError):
                pass  # the connect succeeded; how the close went does not matter
        except ConnectionRefusedError:
            detail = f"connect refused: {target}"
        except TimeoutError:
            detail = f"connect to {target} timed out after {self.spec.timeout:g}s"
        except OSError as exc:
            detail = f"cannot connect to {target}: {exc.strerror or exc}"
        except Exception as exc:  # a probe never raises
            detail = f"{type(exc).__name__} connecting to {target}: {exc}"
        latency = time.perf_counter() - started
        result = ProbeResult(self.service, self.name, now, ok, latency, short(detail))
        return Collection(self.service, self.name, now, probe=result)
