import asyncio
import time

import pytest

from vigil.clock import SystemClock
from vigil.config.sources import HttpProbe
from vigil.sources import Collection, FakeCollector, Scheduler
from vigil.sources.http import HttpProbeCollector
from vigil.sources.http_client import HttpPool
from vigil.sources.scheduler import start_offsets
from vigil.testing import FakeClock


class Recorder:
    def __init__(self, clock) -> None:
        self.clock = clock
        self.got: list[tuple[float, Collection]] = []

    async def __call__(self, collection: Collection) -> None:
        self.got.append((self.clock.now(), collection))

    def starts(self, name: str) -> list[float]:
        return [c.ts for _, c in self.got if c.source == name]


async def test_keeps_its_interval_on_a_fake_clock():
    clock = FakeClock(start=0.0)
    rec = Recorder(clock)
    a = FakeCollector("shop", "a", interval=10.0)
    b = FakeCollector("shop", "b", interval=10.0)
    scheduler = Scheduler([a, b], clock, rec)
    await scheduler.start()
    await clock.advance(60.0)
    await scheduler.stop()
    assert rec.starts("a") == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert rec.starts("b") == [5.0, 15.0, 25.0, 35.0, 45.0, 55.0]  # phase spread
    assert max(scheduler.stats.lags) == 0.0
    # Probe results arrive as samples too.
    _, first = rec.got[0]
    names = {s.key.name for s in first.samples}
    assert names == {"probe_success", "probe_duration_seconds"}
    assert first.samples[0].key.label_map == {"service": "shop", "probe": "a"}


async def test_hanging_probe_does_not_delay_the_others():
    clock = FakeClock(start=0.0)
    rec = Recorder(clock)
    hanging = FakeCollector("shop", "hang", interval=10.0, timeout=5.0, outcomes=[1000.0] * 10, clock=clock)
    others = [FakeCollector("shop", f"p{i}", interval=10.0) for i in range(4)]
    scheduler = Scheduler([hanging, *others], clock, rec, max_concurrency=10)
    await scheduler.start()
    await clock.advance(30.0)
    await scheduler.stop(grace=0.1)  # the one in flight at t=30 never ends on a fake clock
    for o in others:
        assert len(rec.starts(o.name)) == 3
    assert max(scheduler.stats.lags) == 0.0
    # The hanging one is cut at its timeout (plus the 10% margin) and reported as a failing probe.
    hung = [(at, c) for at, c in rec.got if c.source == "hang"]
    assert [at for at, _ in hung] == [5.5, 15.5, 25.5]
    assert all(not c.probe.ok and c.probe.detail == "timed out after 5s" for _, c in hung)
    assert scheduler.stats.timeouts == 3


async def test_crash_and_deliver_errors_do_not_stop_collecting():
    clock = FakeClock(start=0.0)
    got: list[Collection] = []

    async def flaky_deliver(collection: Collection) -> None:
        got.append(collection)
        if len(got) == 2:
            raise RuntimeError("store down")

    c = FakeCollector("shop", "p", interval=1.0, outcomes=[RuntimeError("bug"), True, True, True])
    scheduler = Scheduler([c], clock, flaky_deliver)
    await scheduler.start()
    await clock.advance(3.0)
    await scheduler.stop()
    assert len(got) == 4
    assert not got[0].probe.ok and got[0].probe.detail == "collector error: RuntimeError: bug"
    assert all(x.probe.ok for x in got[1:])
    assert scheduler.stats.crashes == 1 and scheduler.stats.deliver_errors == 1


async def test_overrun_skips_missed_ticks_instead_of_bursting():
    clock = FakeClock(start=0.0)
    rec = Recorder(clock)

    async def slow_deliver(collection: Collection) -> None:
        await rec(collection)
        if len(rec.got) == 1:
            await clock.sleep(25.0)  # the engine was slow once

    c = FakeCollector("shop", "p", interval=10.0)
    scheduler = Scheduler([c], clock, slow_deliver)
    await scheduler.start()
    await clock.advance(50.0)
    await scheduler.stop()
    # Tick 10 is a whole interval behind: skipped. Tick 20 runs late (at 25), then back on the grid.
    assert rec.starts("p") == [0.0, 25.0, 30.0, 40.0, 50.0]
    assert scheduler.stats.skipped == 1
    assert sorted(scheduler.stats.lags) == [0.0, 0.0, 0.0, 0.0, 5.0]


def test_start_offsets_are_spread_per_interval():
    cs = [FakeCollector("s", f"p{i}", interval=10.0) for i in range(4)] + [FakeCollector("s", "q", interval=3.0)]
    assert start_offsets(cs) == [0.0, 2.5, 5.0, 7.5, 0.0]


async def test_stop_waits_briefly_then_cancels():
    clock = FakeClock(start=0.0)
    rec = Recorder(clock)
    c = FakeCollector("shop", "hang", interval=10.0, timeout=5.0, outcomes=[1000.0], clock=clock)
    scheduler = Scheduler([c], clock, rec)
    await scheduler.start()
    await clock.advance(1.0)
    started = time.monotonic()
    await scheduler.stop(grace=0.2)
    assert time.monotonic() - started < 1.5
    assert not scheduler.running and rec.got == []


async def test_real_clock_hanging_http_target_does_not_delay_others(server):
    http = HttpPool()
    good = [HttpProbeCollector("shop", f"ok{i}", HttpProbe(kind="http", url=f"{server.url}/health",
                                                            interval=0.2, timeout=0.2), http)
            for i in range(5)]
    hang = HttpProbeCollector("shop", "hang", HttpProbe(kind="http", url=f"{server.url}/hang",
                                                        interval=0.5, timeout=0.3), http)
    clock = SystemClock()
    rec = Recorder(clock)
    scheduler = Scheduler([hang, *good], clock, rec, max_concurrency=50)
    await scheduler.start()
    await asyncio.sleep(1.5)
    await scheduler.stop()
    for g in good:
        assert len(rec.starts(g.name)) >= 5
        assert all(c.probe.ok for _, c in rec.got if c.source == g.name)
    hung = [c for _, c in rec.got if c.source == "hang"]
    assert hung and all(not c.probe.ok and "timed out" in c.probe.detail for c in hung)
    assert sorted(scheduler.stats.lags)[int(0.9 * len(scheduler.stats.lags))] < 0.1


def test_probe_results_become_series():
    from vigil.model import ProbeResult
    from vigil.sources import probe_samples

    r = ProbeResult("shop", "https", 100.0, False, 0.25, "HTTP 500", {"status_code": 500, "tls_days_left": 12.5})
    got = {str(s.key): (s.ts, s.value) for s in probe_samples(r)}
    assert got == {
        'probe_success{probe="https",service="shop"}': (100.0, 0.0),
        'probe_duration_seconds{probe="https",service="shop"}': (100.0, 0.25),
        'probe_status_code{probe="https",service="shop"}': (100.0, 500.0),
        'probe_tls_days_left{probe="https",service="shop"}': (100.0, 12.5),
    }


def test_stats_snapshot_is_cheap_and_bounded():
    from vigil.sources.scheduler import SchedulerStats

    stats = SchedulerStats(reservoir=640)
    for i in range(1000):
        stats.runs += 1
        stats.lags.append(i / 1000)
        stats.durations.append(0.01)
    snap = stats.snapshot()
    assert len(stats.lags) == 640 and snap["runs"] == 1000
    assert snap["start_lag_p99_s"] == 0.993 and snap["duration_p50_s"] == 0.01
    stats.runs += 1
    stats.lags.append(5.0)
    assert stats.snapshot()["start_lag_p99_s"] == 0.993  # fewer than 1/64 new runs: cached
    for _ in range(10):
        stats.runs += 1
        stats.lags.append(5.0)
    assert stats.snapshot()["start_lag_p99_s"] == 5.0


async def test_many_probes_do_not_fire_in_the_same_millisecond():
    clock = FakeClock(start=0.0)
    rec = Recorder(clock)
    collectors = [FakeCollector("s", f"p{i}", interval=10.0) for i in range(200)]
    scheduler = Scheduler(collectors, clock, rec, max_concurrency=20)
    await scheduler.start()
    await clock.advance(9.99)
    await scheduler.stop()
    starts = sorted(c.ts for _, c in rec.got)
    assert len(starts) == 200
    assert min(b - a for a, b in zip(starts, starts[1:])) == pytest.approx(0.05)
