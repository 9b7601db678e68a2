"""Engine behaviour as timelines on a fake clock, with a real SQLite store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vigil.app import build_engine
from vigil.config import parse_config
from vigil.engine import Engine
from vigil.model import Health, SeriesKey
from vigil.sources import FakeCollector
from vigil.store import open_store
from vigil.testing import FakeClock, InlineWriter, RecordingStage

T0 = 1_700_000_000.0
CFG = """
services:
  - name: web
    probes:
      - {name: health, kind: http, url: "http://127.0.0.1:9/health", interval: 10s, timeout: 2s}
"""


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = open_store(f"sqlite:///{tmp_path / 'vigil.db'}")
    yield s
    s.close()


def inline_engine(store: Any, clock: FakeClock, collectors: list[Any], **parts: Any) -> Engine:
    """The real engine, every write and read run in place: a timeline needs no real time."""
    return build_engine(parse_config(CFG, env={}), store=store, clock=clock, collectors=collectors,
                        writer=InlineWriter(), worker=InlineWriter(), **parts)


def engine_with(store: Any, outcomes: list[object], clock: FakeClock,
                stages: list | None = None) -> tuple[Engine, FakeCollector]:
    collector = FakeCollector("web", "health", interval=10.0, timeout=2.0, outcomes=outcomes, clock=clock)
    return inline_engine(store, clock, [collector], extra_stages=stages or []), collector


async def test_probe_thresholds_make_one_outage_and_one_recovery(store: Any) -> None:
    clock = FakeClock(T0)
    outcomes = [True, True, True, False, False, False, False, False, True, True, True, True]
    engine, collector = engine_with(store, outcomes, clock)
    await engine.start()
    await clock.advance(125)
    await engine.stop()
    starts = collector.starts
    assert len(starts) >= 12
    changes = [(e.ts, e.data["before"], e.data["after"]) for e in store.events(kind="health")]  # oldest first
    assert changes == [
        (starts[0], "unknown", "healthy"),      # first success: nothing to confirm
        (starts[5], "healthy", "unhealthy"),    # third consecutive failure, not the first
        (starts[9], "unhealthy", "healthy"),    # second consecutive success
    ]
    assert engine.health() == {"web": "healthy"}
    [row] = store.health()
    assert row["service"] == "web" and row["health"] in (Health.HEALTHY, "healthy")
    # every probe run is also a series
    res = store.query_range(SeriesKey.of("probe_success", {"service": "web", "probe": "health"}),
                            T0 - 1, T0 + 200, resolution="raw")
    assert res.values[:6].tolist() == [1, 1, 1, 0, 0, 0]


async def test_single_blip_is_not_an_outage(store: Any) -> None:
    clock = FakeClock(T0)
    engine, _ = engine_with(store, [True, False, True, False, False, True, True], clock)
    await engine.start()
    await clock.advance(75)
    await engine.stop()
    assert [e.data["after"] for e in store.events(kind="health")] == ["healthy"]


class FlakyStore:
    """The real store, but write_samples fails the first `failures` times (a database restart)."""

    def __init__(self, inner: Any, failures: int) -> None:
        self.inner, self.failures = inner, failures

    def write_samples(self, samples: Any) -> int:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("database is restarting")
        return self.inner.write_samples(samples)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_store_outage_loses_no_samples(store: Any) -> None:
    clock = FakeClock(T0)
    engine, collector = engine_with(FlakyStore(store, failures=2), [True] * 10, clock)
    await engine.start()
    await clock.advance(95)
    await engine.stop()
    res = store.query_range(SeriesKey.of("probe_success", {"service": "web", "probe": "health"}),
                            T0 - 1, T0 + 200, resolution="raw")
    assert len(res.ts) == len(collector.starts)  # the two failed writes were retried, in order
    assert res.ts.tolist() == sorted(collector.starts)
    assert engine.metrics.stage_errors.labels("persist")._value.get() == 2


async def test_a_failing_stage_never_stops_the_loop(store: Any) -> None:
    clock = FakeClock(T0)
    broken = RecordingStage("broken", fail=True)
    engine, collector = engine_with(store, [True] * 6, clock, stages=[broken])
    await engine.start()
    await clock.advance(55)
    await engine.stop()
    assert broken.started and broken.closed
    assert len(broken.batches) == engine.passes >= 55  # a pass at every tick (1 s), with data or not
    assert len(store.events(kind="health")) == 1  # the record stage after the broken one still ran
    assert engine.metrics.stage_errors.labels("broken")._value.get() == len(broken.batches)


async def test_a_pass_runs_on_every_tick_even_without_data(store: Any) -> None:
    clock = FakeClock(T0)
    seen = RecordingStage()
    engine = inline_engine(store, clock, [], extra_stages=[seen])
    await engine.start()
    await clock.advance(10)
    await engine.stop()
    ticks = [b.now for b in seen.batches if b.empty()]
    assert ticks[:10] == [T0 + i for i in range(1, 11)]  # engine.tick defaults to 1 s


async def test_stop_records_and_drains(store: Any) -> None:
    clock = FakeClock(T0)
    engine, _ = engine_with(store, [True] * 3, clock)
    await engine.start()
    await clock.advance(15)
    await engine.stop()
    msgs = [e.message for e in store.events(kind="engine")]
    assert msgs[-1] == "vigil stopped" and msgs[0].startswith("vigil started")  # oldest first
    assert engine.stats()["running"] is False


async def test_unwritten_batches_are_retried_without_new_data(store: Any) -> None:
    clock = FakeClock(T0)
    flaky = FlakyStore(store, failures=1)
    engine, collector = engine_with(flaky, [True], clock)
    collector.interval = 1000.0  # one run only: nothing new will arrive to trigger a pass
    await engine.start()
    await clock.advance(1)
    assert flaky.failures == 0 and engine.stages.persist.pending == 1
    await clock.advance(3)  # retries wait RETRY_EVERY_S (5 s) after a failure: no hammering
    assert engine.stages.persist.pending == 1
    await clock.advance(3)  # the tick after that writes it
    assert engine.stages.persist.pending == 0
    await engine.stop()
    assert len(store.probe_results(service="web")) == 1


class ErrorCollector:
    """A metric source that fails with a given error sequence (None = collected fine)."""

    kind, interval, timeout = "scrape", 10.0, 2.0

    def __init__(self, errors: list[str | None]) -> None:
        self.service, self.name, self.errors = "web", "scrape", list(errors)

    async def collect(self, now: float) -> Any:
        from vigil.sources import Collection
        return Collection(self.service, self.name, now, error=self.errors.pop(0) if self.errors else None)


async def test_a_failing_metric_source_is_one_alert_until_it_collects_again(store: Any) -> None:
    clock = FakeClock(T0)
    errors = ["connect refused", "connect refused", "connect refused", "HTTP 500", None, None,
              "HTTP 500", "HTTP 500", None]
    engine = inline_engine(store, clock, [ErrorCollector(errors)])
    await engine.start()
    await clock.advance(95)
    await engine.stop()
    lines = [(e.data["status"], e.message) for e in store.events(kind="alert")]
    assert lines == [
        ("firing", "FIRING [warning] CollectFailing: web/scrape: 3 collections failed in a row: connect refused"),
        ("resolved", "RESOLVED [warning] CollectFailing: web/scrape: 3 collections failed in a row: connect "
                     "refused (resolved: collecting again)")]  # two failures in a row are not an alert
    [alert] = store.alerts(status=None)
    assert alert.labels == {"alertname": "CollectFailing", "service": "web", "source": "scrape",
                            "severity": "warning"}
    assert (alert.status.value, alert.starts_at, alert.ends_at) == ("resolved", T0 + 20, T0 + 40)
