"""What the demo's terminal view shows of each service, read from its own `/metrics`: request
rate, error ratio and p99 latency over the last few seconds, memory, and the injected fault.

Rates come from the difference between the newest scrape and one about `window_s` older, as
Prometheus' rate() does, so one slow scrape does not make the numbers jump."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from dataclasses import dataclass, field

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

NOT_BUSINESS = frozenset({"/health", "/metrics", "/admin/fault", "unmatched"})


@dataclass
class Scrape:
    at: float
    requests: float = 0.0
    errors: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)  # le -> cumulative count
    memory_bytes: float | None = None
    fault: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceReading:
    name: str
    reachable: bool
    request_rate: float | None = None  # business requests per second
    error_ratio: float | None = None  # share of those answered 5xx
    p99_s: float | None = None
    memory_bytes: float | None = None
    fault: dict[str, float] = field(default_factory=dict)  # knobs that are set


def parse_scrape(text: str, at: float) -> Scrape:
    s = Scrape(at)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            route = sample.labels.get("route", "")
            if sample.name == "http_requests_total" and route not in NOT_BUSINESS:
                s.requests += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    s.errors += sample.value
            elif sample.name == "http_request_duration_seconds_bucket" and route not in NOT_BUSINESS:
                le = float(sample.labels["le"])
                s.buckets[le] = s.buckets.get(le, 0.0) + sample.value
            elif sample.name == "process_resident_memory_bytes":
                s.memory_bytes = sample.value
            elif sample.name == "demo_fault" and sample.value:
                s.fault[sample.labels["knob"]] = sample.value
    return s


def bucket_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """histogram_quantile(): linear interpolation inside the bucket holding the q-th observation."""
    edges = sorted(buckets)
    if not edges or buckets[edges[-1]] <= 0:
        return None
    rank = q * buckets[edges[-1]]
    lower_edge, lower_count = 0.0, 0.0
    for edge in edges:
        count = buckets[edge]
        if count >= rank:
            if math.isinf(edge):
                return lower_edge  # beyond the last finite bucket: its edge is all we know
            if count == lower_count:
                return edge
            return lower_edge + (edge - lower_edge) * (rank - lower_count) / (count - lower_count)
        lower_edge, lower_count = edge, count
    return lower_edge


class FleetReadings:
    """Scrapes each service's `/metrics` and keeps a few seconds of history per service."""

    def __init__(self, metrics_urls: dict[str, str], window_s: float = 10.0, timeout_s: float = 1.0) -> None:
        self.urls = dict(metrics_urls)
        self.window_s = window_s
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._history: dict[str, deque[Scrape]] = {n: deque() for n in self.urls}

    async def read(self, session: aiohttp.ClientSession) -> dict[str, ServiceReading]:
        names = list(self.urls)
        results = await asyncio.gather(*(self._read_one(session, n) for n in names))
        return dict(zip(names, results))

    async def _read_one(self, session: aiohttp.ClientSession, name: str) -> ServiceReading:
        try:
            async with session.get(self.urls[name], timeout=self.timeout) as resp:
                resp.raise_for_status()
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError):
            return ServiceReading(name, reachable=False)
        now = time.monotonic()
        history = self._history[name]
        history.append(parse_scrape(text, now))
        while len(history) > 2 and now - history[1].at >= self.window_s:
            history.popleft()
        return self._reading(name, history)

    @staticmethod
    def _reading(name: str, history: deque[Scrape]) -> ServiceReading:
        new = history[-1]
        if len(history) < 2:
            return ServiceReading(name, True, memory_bytes=new.memory_bytes, fault=new.fault)
        old = history[0]
        dt = new.at - old.at
        requests = new.requests - old.requests
        if requests < 0:  # the service restarted: counters began again
            history.clear()
            history.append(new)
            return ServiceReading(name, True, memory_bytes=new.memory_bytes, fault=new.fault)
        errors = new.errors - old.errors
        window = {le: c - old.buckets.get(le, 0.0) for le, c in new.buckets.items()}
        return ServiceReading(
            name, True,
            request_rate=requests / dt if dt > 0 else None,
            error_ratio=errors / requests if requests > 0 else None,
            p99_s=bucket_quantile(0.99, window),
            memory_bytes=new.memory_bytes,
            fault=new.fault)
