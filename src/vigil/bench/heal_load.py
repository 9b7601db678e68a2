"""`vigil bench heal`'s traffic and load surges: storefront's replicas run by vigil's `process`
actuator under a reactive scaling policy, steady light traffic (so a bad deploy's errors show), and a
surge of several times the traffic that the policy must answer by scaling out."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from vigil.demo.autoscale import StorefrontScaling

BASE_RPS = 6.0  # steady traffic: one replica, and a bad build's errors at 2.4/s
SURGE_RPS = 36.0  # six times the steady traffic: three replicas at the target
TARGET_RPS = 12.0  # the policy's requests/s per replica
SCALING = StorefrontScaling(mode="reactive", min_replicas=1, max_replicas=4, target_rps=TARGET_RPS,
                            sync_period_s=2.0, ready_timeout_s=20.0, stop_timeout_s=3.0)
# A surge is answered once this many replicas are ready (capacity for 80% of it at the target) and
# storefront is healthy.
SURGE_NEEDS = max(2, math.floor(0.8 * SURGE_RPS / TARGET_RPS))


class Traffic:
    """Requests to storefront at `rps` (changed on the fly), each in its own task, at most 200 under way."""

    def __init__(self, url: str, rps: float = BASE_RPS) -> None:
        self.url, self.rps = url, rps
        self.sent = self.failed = 0
        self._under_way: set[asyncio.Task[None]] = set()

    async def _one(self, http: aiohttp.ClientSession) -> None:
        try:
            async with http.get(self.url + "/") as r:
                await r.read()
                self.failed += r.status >= 500
        except (aiohttp.ClientError, TimeoutError):
            self.failed += 1

    async def run(self, http: aiohttp.ClientSession) -> None:
        next_at = time.monotonic()
        while True:
            next_at += 1.0 / self.rps
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if time.monotonic() - next_at > 1.0:
                next_at = time.monotonic()  # fell behind (a busy machine): no catch-up burst
            if len(self._under_way) < 200:
                self.sent += 1
                task = asyncio.create_task(self._one(http))
                self._under_way.add(task)
                task.add_done_callback(self._under_way.discard)


@contextlib.asynccontextmanager
async def traffic(url: str) -> AsyncIterator[Traffic]:
    t = Traffic(url)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        task = asyncio.create_task(t.run(http))
        try:
            yield t
        finally:
            task.cancel()
            await asyncio.gather(task, *t._under_way, return_exceptions=True)


async def surge(engine: Any, actuator: Any, load: Traffic, target: str, timeout_s: float,
                hold_s: float = 10.0) -> dict[str, Any]:
    """Raise the traffic to SURGE_RPS; detection is the first scale-out asked for, recovery the first
    moment SURGE_NEEDS replicas are ready and storefront is healthy. The surge holds `hold_s` more,
    then the traffic goes back to BASE_RPS. Scale-downs while the surge is on count as flapping."""
    t0 = engine.clock.now()
    before = int(await actuator.requested_replicas() or 1)
    load.rps = SURGE_RPS
    detected = recovered = None
    last, peak, ups, downs = before, before, 0, 0
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            asked = int(await actuator.requested_replicas() or 0)
            if asked > last:
                ups += 1
                detected = detected if detected is not None else engine.clock.now() - t0
            elif asked < last:
                downs += 1
            last, peak = asked, max(peak, asked)
            ready = await actuator.ready_replicas()
            if recovered is None and ready >= SURGE_NEEDS and engine.health().get(target) == "healthy":
                recovered = engine.clock.now() - t0
                deadline = min(deadline, time.monotonic() + hold_s)
            await asyncio.sleep(0.25)
    finally:
        load.rps = BASE_RPS
    return {"detection_s": round(detected, 2) if detected is not None else None,
            "recovery_s": round(recovered, 2) if recovered is not None else None,
            "scale_ups": ups, "scale_downs_during_surge": downs, "replicas_before": before, "replicas_peak": peak}


async def settled_replicas(actuator: Any, within_s: float) -> bool:
    """Back at the policy's minimum after a surge (the scale-down window passed)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await actuator.requested_replicas() == SCALING.min_replicas == await actuator.ready_replicas():
            return True
        await asyncio.sleep(0.5)
    return False
