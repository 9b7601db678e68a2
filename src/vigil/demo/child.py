"""What every demo child process shares: staying on loopback, and not outliving its launcher."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
from urllib.parse import urlsplit

log = logging.getLogger("vigil.demo")


def require_loopback(url: str) -> str:
    """The demo only ever talks to this machine; refuse anything else."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return url
    try:
        if ipaddress.ip_address(host).is_loopback:
            return url
    except ValueError:
        pass
    raise ValueError(f"the demo sends traffic to loopback only (127.0.0.1, ::1, localhost); found {url!r}")


async def exit_with_parent(parent: int, stop: asyncio.Event, every_s: float = 1.0) -> None:
    """Set `stop` once the launcher `parent` is gone (we were re-parented), e.g. after a SIGKILL
    that gave it no chance to clean up. The launcher passes its pid: reading our parent at start-up
    would race with a launcher that dies while we start."""
    while not stop.is_set():
        if os.getppid() != parent:
            log.warning("launcher %d is gone; exiting", parent)
            stop.set()
            return
        await asyncio.sleep(every_s)
