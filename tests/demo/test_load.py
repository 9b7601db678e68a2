"""The load generator: the daily curve's shape, and real traffic that follows it, bounded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from vigil.demo.load import DailyCurve, LoadGenerator


def test_curve_has_a_daily_shape() -> None:
    c = DailyCurve(day_seconds=240, peak_rps=50, start_hour=0)
    night, morning, lunch, afternoon, evening = (c.shape(h) for h in (3, 9, 12.5, 15.5, 19.5))
    assert night == pytest.approx(c.night_fraction, abs=0.01)
    assert night < morning < lunch and afternoon < lunch < evening
    assert max(c.shape(m / 10) for m in range(240)) == pytest.approx(1.0, abs=0.01)
    assert c.rate(19.5 / 24 * 240) == pytest.approx(50 * evening)
    assert c.hour(240 + 30) == pytest.approx(3.0)  # days repeat
    assert DailyCurve(day_seconds=240, start_hour=6).hour(0) == 6.0


def test_only_loopback_targets() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LoadGenerator("http://example.com/")
    LoadGenerator("http://localhost:1/")
    LoadGenerator("http://[::1]:1/")


@pytest.fixture
async def target() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    await runner.cleanup()


async def test_traffic_follows_the_curve_and_stops_on_time(target: tuple[str, list[str]]) -> None:
    url, seen = target
    # One day in 4 s starting at midnight: each second is 6 hours; second 0 is night, 3 the evening.
    curve = DailyCurve(day_seconds=4, peak_rps=40, start_hour=0)
    gen = LoadGenerator(url, curve, noise=0.0, seed=3)
    stats = await gen.run(duration=4)
    assert stats.duration_s < 6  # 4 s, and requests in flight may finish
    assert len(stats.per_second) <= 4
    night, evening = stats.per_second[0], stats.per_second[3]
    assert evening > 3 * max(night, 1), stats.per_second
    assert stats.sent == len(seen) == stats.ok and stats.failures == stats.dropped == 0
    assert stats.sent < 40 * 4  # bounded by the peak
    assert set(seen) == {"/", "/checkout"} and seen.count("/") > seen.count("/checkout")


async def test_stop_ends_an_open_ended_run(target: tuple[str, list[str]]) -> None:
    url, _ = target
    # Start at the evening peak (20 req/s): at the default 06:00 the rate is ~2/s and 0.8 s may send nothing.
    curve = DailyCurve(day_seconds=10, peak_rps=20, start_hour=19.5)
    gen = LoadGenerator(url, curve, mix=[("GET", "/ping", 1.0)])
    run = asyncio.create_task(gen.run())
    await asyncio.sleep(0.8)
    gen.stop()
    stats = await asyncio.wait_for(run, timeout=2)
    assert stats.sent > 0 and stats.failures == 0


async def test_unreachable_target_counts_failures(target: tuple[str, list[str]]) -> None:
    gen = LoadGenerator("http://127.0.0.1:9/", DailyCurve(day_seconds=10, peak_rps=20, start_hour=19),
                        timeout_s=1.0)
    stats = await gen.run(duration=1.0)
    assert stats.sent > 0 and stats.failures == stats.sent
