"""The demo config's rules fire on every occurrence of a fault: a burst of 5xx that comes back, a
target that goes down again (an anomaly detector damps an event it has just seen; rules do not)."""

from __future__ import annotations

import asyncio
from typing import Any

import yaml

from vigil.config import parse_config
from vigil.demo.fleet import watch_config
from vigil.model import Sample, SeriesKey
from vigil.pipeline import Batch
from vigil.stages.rules import RulesStage
from vigil.testing import FakeClock, InlineWriter

T0, S = 1_700_000_000.0, 5.0


class StateOnly:
    """The rules stage reads the store only for window rules; the demo's are streaming thresholds."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def load_state(self, key: str) -> bytes | None:
        return self.blobs.get(key)

    def save_state(self, key: str, blob: bytes) -> None:
        self.blobs[key] = blob


def stage() -> tuple[RulesStage, FakeClock]:
    data = watch_config({"catalog": "http://127.0.0.1:1"}, server_port=1, api_key="k" * 24,
                        store_url="sqlite:///unused.db", probe_interval_s=S, probe_timeout_s=2.0,
                        scrape_interval_s=S)
    clock = FakeClock(T0)
    return RulesStage(parse_config(yaml.safe_dump(data), env={}), StateOnly(), clock, InlineWriter(),
                      InlineWriter()), clock


def run(stage_: RulesStage, clock: FakeClock, series: SeriesKey, values: list[float]) -> list[Any]:
    """One sample of `series` every S seconds; the (seconds after T0, source) of each signal."""
    async def feed() -> list[Any]:
        signals = []
        for v in values:
            await clock.advance(S)
            batch = Batch(now=clock.now(), samples=[Sample(series, clock.now(), v)])
            await stage_.run(batch)
            signals += [(round(s.ts - T0), s.source) for s in batch.signals]
        return signals

    return asyncio.run(feed())


def test_a_returning_error_burst_fires_every_time() -> None:
    rules, clock = stage()
    errors = SeriesKey.of("http_request_errors_total:rate", {"service": "catalog", "route": "/products"})
    burst = [0.0] * 4 + [1.6, 2.4, 0.2] + [0.0] * 6  # fires at the first errors, clears once they stop
    assert run(rules, clock, errors, burst * 3) == [(t, "rule:server-errors") for t in (25, 90, 155)]


def test_a_target_down_fires_at_the_first_failed_scrape_each_time() -> None:
    rules, clock = stage()
    up = SeriesKey.of("up", {"service": "catalog", "instance": "http://127.0.0.1:1/metrics"})
    assert run(rules, clock, up, [1, 1, 0, 0, 1, 1, 0, 1]) == [(15, "rule:target-down"), (35, "rule:target-down")]
