"""The service page's error budget (`/api/v1/services/{name}/slo`) and latency distribution
(`/api/v1/services/{name}/latency`) over the real engine, API and SQLite store, with samples written
as a scrape would have stored them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.web.conftest import API_KEY, running
from vigil.model import SeriesKey
from vigil.testing import FakeClock

NOW = 1_700_000_040.0  # on a minute
CONFIG = """
store: {{url: "sqlite:///{db}"}}
server: {{api_keys: [{{name: tests, key: {key}}}]}}
services:
  - name: shop
    rules:
      - kind: slo
        name: availability
        objective: 99
        window: 1d
        good: http_good:rate
        total: http_total:rate
        burn_rates:
          - {{long: 1h, short: 5m, factor: 14.4}}
          - {{long: 6h, short: 30m, factor: 6, severity: warning}}
  - name: quiet
"""


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    async with running(CONFIG.format(db=tmp_path / "v.db", key=API_KEY), FakeClock(NOW)) as both:
        yield both


def _write(engine: Any, name: str, labels: dict[str, str], ts: np.ndarray, values: np.ndarray) -> None:
    key = SeriesKey.of(name, {"service": "shop", **labels})
    engine.store.write_batch([key] * ts.size, ts, values)


async def test_the_error_budget_left_and_how_fast_it_burns(shop: tuple[httpx.AsyncClient, Any]) -> None:
    client, engine = shop
    ts = NOW - 60.0 * np.arange(1439)[::-1]  # a day of minutes, the newest at NOW
    total = np.full(ts.size, 10.0)
    good = np.where(ts > NOW - 3600, 8.0, 10.0)  # the last hour: 20 % errors
    _write(engine, "http_total:rate", {}, ts, total)
    _write(engine, "http_good:rate", {}, ts, good)
    r = await client.get("/api/v1/services/shop/slo")
    assert r.status_code == 200, r.text
    [slo] = r.json()["slos"]
    spent = float((total - good).sum() / total.sum()) / 0.01  # the share of the budget the errors used
    assert slo["name"] == "availability" and slo["objective_pct"] == 99 and slo["window_s"] == 86400
    assert slo["error_ratio"] == pytest.approx(float((total - good).sum() / total.sum()), rel=1e-3)
    assert slo["remaining"] == pytest.approx(1 - spent, abs=0.01)  # about 1/6 of the budget left
    fast, slow = slo["burn_rates"]
    assert fast["long_burn"] == pytest.approx(20, rel=0.02) and fast["burning"] is True  # 20x > 14.4x
    assert slow["burning"] is False and slow["long_burn"] == pytest.approx(20 / 6, rel=0.05)
    # Over the window: no burn until the last hour, then 20x; what is left falls to the figure above.
    burn = [b for b in slo["burn"] if b is not None]
    assert burn[0] == 0 and burn[-1] == pytest.approx(20, rel=0.01)
    left = [x for x in slo["remaining_over_time"] if x is not None]
    assert left[0] == 1.0 and left[-1] == pytest.approx(slo["remaining"], abs=1e-6)
    assert all(b <= a + 1e-9 for a, b in zip(left, left[1:], strict=False))  # it only ever goes down
    assert len(slo["ts"]) == len(slo["burn"]) == 720  # a day in 2-minute steps


async def test_a_service_without_an_slo_or_data_says_so(shop: tuple[httpx.AsyncClient, Any]) -> None:
    client, _ = shop
    assert (await client.get("/api/v1/services/quiet/slo")).json()["slos"] == []
    [slo] = (await client.get("/api/v1/services/shop/slo")).json()["slos"]
    assert slo["events"] == 0 and slo["remaining"] is None and slo["error_ratio"] is None
    missing = await client.get("/api/v1/services/nope/slo")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


async def test_the_latency_distribution_shifts_when_requests_slow_down(shop: tuple[httpx.AsyncClient, Any]) -> None:
    client, engine = shop
    ts = NOW - 60.0 * np.arange(120)[::-1]
    slow = ts > NOW - 1800  # the last half hour: everything twice as slow
    for q, v in (("0.5", 0.1), ("0.9", 0.2), ("0.99", 0.5)):
        _write(engine, "http_request_duration_seconds", {"quantile": q}, ts, np.where(slow, 2 * v, v))
    _write(engine, "http_requests_total:rate", {}, ts, np.ones(ts.size))  # not a histogram: left out
    r = await client.get("/api/v1/services/shop/latency", params={"start": "-2h", "step": "5m"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["histogram"] == "http_request_duration_seconds" and body["levels"] == [0.5, 0.9, 0.99]
    assert len(body["edges"]) == len(body["density"][0]) + 1 and body["edges"][0] < 0.1 < 1.0 < body["edges"][-1]
    t = np.array(body["ts"])
    for row, above, at in zip(body["density"], body["above"], t, strict=True):
        assert sum(row) + above == pytest.approx(1.0, abs=1e-3)  # every request is somewhere
        assert above == pytest.approx(0.01)  # above p99: its shape unknown
        # The share of requests under 0.2 s, read off the bins: 90 % before, 50 % once twice as slow.
        under = float(np.interp(0.2, body["edges"][1:], np.cumsum(row)))
        if at < NOW - 1800 - 300:
            assert under == pytest.approx(0.9, abs=0.03), at
        elif at > NOW - 1800:
            assert under == pytest.approx(0.5, abs=0.03), at


async def test_latency_input_errors_name_what_is_wrong(shop: tuple[httpx.AsyncClient, Any]) -> None:
    client, engine = shop
    none = await client.get("/api/v1/services/shop/latency")
    assert none.status_code == 404 and "no histogram" in none.json()["detail"]
    _write(engine, "lat_ms", {"quantile": "0.5"}, np.array([NOW]), np.array([3.0]))
    other = await client.get("/api/v1/services/shop/latency", params={"histogram": "other"})
    assert other.status_code == 404 and "lat_ms" in other.json()["detail"]
    many = await client.get("/api/v1/services/shop/latency", params={"start": "-365d", "step": "1m"})
    assert many.status_code == 400 and "at most 2000 steps" in many.json()["detail"]
    bad = await client.get("/api/v1/services/shop/latency", params={"step": "soon"})
    assert bad.status_code == 400 and "step" in bad.json()["detail"]
