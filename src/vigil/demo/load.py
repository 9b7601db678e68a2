"""Load generator: a day of shop traffic compressed into minutes, sent to any loopback URL.

`python -m vigil.demo.load --url http://127.0.0.1:PORT --day-seconds 600 --peak-rps 50`

Arrivals are open-loop (Poisson at the curve's current rate), as real users do not wait for each
other; requests in flight are capped, and arrivals beyond the cap are counted as dropped rather
than queued, so a slow target never makes the generator grow without bound."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from vigil.demo.child import exit_with_parent, require_loopback

# (method, path, weight): browsing is three times as common as buying.
DRAIN_S = 1.5  # how long requests in flight may finish once the run ends

SHOP_MIX: tuple[tuple[str, str, float], ...] = (("GET", "/", 3.0), ("GET", "/checkout", 1.0))


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-0.5 * ((hour - centre) / width) ** 2)


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(frozen=True)
class DailyCurve:
    """Requests per second over a day: quiet at night, a morning ramp, lunch and evening peaks.
    One day lasts `day_seconds` of real time; the run starts at `start_hour` of that day."""

    day_seconds: float = 600.0
    peak_rps: float = 50.0
    night_fraction: float = 0.08
    start_hour: float = 6.0

    def __post_init__(self) -> None:
        if self.day_seconds <= 0 or self.peak_rps <= 0:
            raise ValueError("day_seconds and peak_rps must be more than 0")
        if not 0 <= self.night_fraction <= 1:
            raise ValueError("night_fraction must be between 0 and 1")

    def hour(self, t: float) -> float:
        """Hour of the simulated day (0..24) at `t` seconds into the run."""
        return (self.start_hour + 24.0 * t / self.day_seconds) % 24.0

    @staticmethod
    def _raw(hour: float) -> float:
        daytime = _logistic((hour - 7.5) / 0.7) * _logistic((23.0 - hour) / 0.7)
        return 0.45 * daytime + 0.35 * _bump(hour, 12.5, 1.0) + 0.55 * _bump(hour, 19.5, 1.5)

    def shape(self, hour: float) -> float:
        """Traffic at `hour` as a fraction of the peak, between night_fraction and 1."""
        top = _RAW_PEAK
        return self.night_fraction + (1.0 - self.night_fraction) * min(1.0, self._raw(hour) / top)

    def rate(self, t: float) -> float:
        return self.peak_rps * self.shape(self.hour(t))


_RAW_PEAK = max(DailyCurve._raw(m / 60.0) for m in range(24 * 60))


@dataclass
class LoadStats:
    sent: int = 0
    ok: int = 0
    server_errors: int = 0
    client_errors: int = 0
    failures: int = 0  # no answer: refused, reset, timed out
    dropped: int = 0  # arrivals not sent because max_in_flight were already waiting
    duration_s: float = 0.0
    by_status: Counter[str] = field(default_factory=Counter)
    per_second: list[int] = field(default_factory=list)  # requests sent in each second of the run

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "ok": self.ok, "server_errors": self.server_errors,
                "client_errors": self.client_errors, "failures": self.failures, "dropped": self.dropped,
                "duration_s": round(self.duration_s, 3), "by_status": dict(self.by_status),
                "per_second": self.per_second}


class LoadGenerator:
    """Drives `url` with traffic following `curve`. `run()` returns when `duration` has passed or
    `stop()` is called; requests still in flight are then given DRAIN_S at most."""

    def __init__(self, url: str, curve: DailyCurve | None = None,
                 mix: Sequence[tuple[str, str, float]] = SHOP_MIX, noise: float = 0.1,
                 max_rps: float = 200.0, max_in_flight: int = 32, timeout_s: float = 5.0,
                 seed: int | None = None) -> None:
        self.url = require_loopback(url).rstrip("/")
        self.curve = curve or DailyCurve()
        if not mix:
            raise ValueError("mix needs at least one (method, path, weight)")
        self.mix = list(mix)
        self.noise = noise
        self.max_rps = max_rps
        self.max_in_flight = max_in_flight
        self.timeout_s = timeout_s
        self.rng = random.Random(seed)
        self.stats = LoadStats()
        self._stopping = False
        self._in_flight: set[asyncio.Task[None]] = set()

    def stop(self) -> None:
        self._stopping = True

    def _target_rate(self, t: float, noise_factor: float) -> float:
        return max(0.0, min(self.max_rps, self.curve.rate(t) * noise_factor))

    async def run(self, duration: float | None = None) -> LoadStats:
        weights = [w for _, _, w in self.mix]
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        connector = aiohttp.TCPConnector(limit=self.max_in_flight)
        start = time.monotonic()
        next_at = start
        noise_second, noise_factor = -1, 1.0
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            while not self._stopping:
                now = time.monotonic()
                t = now - start
                if duration is not None and t >= duration:
                    break
                if int(t) != noise_second:  # noise held for a second, so it reads as traffic, not jitter
                    noise_second = int(t)
                    noise_factor = min(1.5, max(0.5, self.rng.gauss(1.0, self.noise)))
                rate = self._target_rate(t, noise_factor)
                if rate <= 0:
                    await asyncio.sleep(0.1)
                    next_at = time.monotonic()
                    continue
                next_at = max(next_at, now - 1.0) + self.rng.expovariate(rate)  # no burst after a stall
                while not self._stopping and (delay := next_at - time.monotonic()) > 0:  # noqa: ASYNC110 (pacing)
                    await asyncio.sleep(min(delay, 0.25))
                if self._stopping or (duration is not None and next_at - start >= duration):
                    break
                self._send(session, next_at - start, weights)
            await self._drain()
        self.stats.duration_s = time.monotonic() - start
        return self.stats

    def _send(self, session: aiohttp.ClientSession, t: float, weights: list[float]) -> None:
        if len(self._in_flight) >= self.max_in_flight:
            self.stats.dropped += 1
            return
        second = int(t)
        while len(self.stats.per_second) <= second:
            self.stats.per_second.append(0)
        self.stats.per_second[second] += 1
        self.stats.sent += 1
        method, path, _ = self.rng.choices(self.mix, weights)[0]
        task = asyncio.create_task(self._request(session, method, self.url + path))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _request(self, session: aiohttp.ClientSession, method: str, url: str) -> None:
        try:
            async with session.request(method, url) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError):
            self.stats.failures += 1
            self.stats.by_status["failed"] += 1
            return
        self.stats.by_status[str(status)] += 1
        if status >= 500:
            self.stats.server_errors += 1
        elif status >= 400:
            self.stats.client_errors += 1
        else:
            self.stats.ok += 1

    async def _drain(self) -> None:
        if self._in_flight:
            _, pending = await asyncio.wait(set(self._in_flight), timeout=min(self.timeout_s, DRAIN_S))
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)


async def _run_child(gen: LoadGenerator, duration: float | None, parent_pid: int | None) -> LoadStats:
    import signal

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, gen.stop)
    stop = asyncio.Event()
    watcher = asyncio.create_task(exit_with_parent(parent_pid, stop)) if parent_pid else None

    async def stop_with_parent() -> None:
        await stop.wait()
        gen.stop()

    stopper = asyncio.create_task(stop_with_parent())
    try:
        return await gen.run(duration)
    finally:
        stopper.cancel()
        if watcher is not None:
            watcher.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vigil.demo.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="base URL on loopback, e.g. the storefront")
    parser.add_argument("--path", action="append", default=[], metavar="METHOD:PATH:WEIGHT",
                        help="request mix (repeatable); default: GET:/:3 and GET:/checkout:1")
    parser.add_argument("--day-seconds", type=float, default=600.0, help="real seconds per simulated day")
    parser.add_argument("--peak-rps", type=float, default=50.0)
    parser.add_argument("--night-fraction", type=float, default=0.08)
    parser.add_argument("--start-hour", type=float, default=6.0)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--max-in-flight", type=int, default=32)
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this launcher is gone")
    args = parser.parse_args(argv)
    mix: list[tuple[str, str, float]] = []
    for spec in args.path:
        method, _, rest = spec.partition(":")
        path, _, weight = rest.rpartition(":")
        try:
            mix.append((method.upper(), path, float(weight)))
        except ValueError:
            parser.error(f"--path expects METHOD:PATH:WEIGHT, e.g. GET:/checkout:1; found {spec!r}")
    try:
        curve = DailyCurve(args.day_seconds, args.peak_rps, args.night_fraction, args.start_hour)
        gen = LoadGenerator(args.url, curve, mix or SHOP_MIX, noise=args.noise,
                            max_in_flight=args.max_in_flight, seed=args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    stats = asyncio.run(_run_child(gen, args.duration, args.parent_pid))
    print(json.dumps(stats.as_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
