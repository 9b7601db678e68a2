"""The alert stream as timelines on a fake clock, through the real engine, API and SQLite store:
pushed samples are detected and ruled like scraped ones, every producer's alert resolves after it
fires, a timer-driven rule fires with no new data at all, and alerts are served with their state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from vigil.app import build_app
from vigil.config import parse_config
from vigil.sources import FakeCollector
from vigil.testing import FakeClock, InlineWriter

T0 = 1_700_000_000.0
KEY = "alert-stream-test-key"
CFG = """
store: {{url: "sqlite:///{db}"}}
server: {{api_keys: [{{name: t, key: {key}}}]}}
services:
  - name: shop
    detect: {{enabled: false}}
    rules:
      - {{kind: threshold, name: deep-queue, series: queue_depth, above: 100, clear: 50, severity: critical}}
      - {{kind: absence, name: heartbeat-gone, series: heartbeat, for: 1m, evaluate_every: 10s}}
    probes:
      - {{name: health, kind: http, url: "http://127.0.0.1:9/", interval: 10s}}
"""


def engine_for(tmp_path: Path, clock: FakeClock, outcomes: list[object]) -> tuple[Any, Any]:
    cfg = parse_config(CFG.format(db=tmp_path / "v.db", key=KEY), env={})
    probe = FakeCollector("shop", "health", interval=10.0, timeout=2.0, outcomes=outcomes, clock=clock)
    return build_app(cfg, clock=clock, collectors=[probe], writer=InlineWriter(), worker=InlineWriter())


async def push(client: httpx.AsyncClient, series: str, value: float, ts: float) -> None:
    r = await client.post("/api/v1/samples", json={"samples": [{"series": series, "ts": ts, "value": value}]})
    assert r.status_code == 200 and r.json() == {"written": 1}, r.text


@pytest.fixture
async def vigil(tmp_path: Path) -> Any:
    clock = FakeClock(T0)
    app, engine = engine_for(tmp_path, clock, [True] * 3 + [False] * 4 + [True] * 20)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil.test",
                                 headers={"Authorization": f"Bearer {KEY}"}) as client:
        await engine.start()
        try:
            yield clock, engine, client
        finally:
            await engine.stop()
            engine.store.close()


async def test_a_pushed_sample_fires_a_rule_and_a_later_one_resolves_it(vigil: Any) -> None:
    clock, engine, client = vigil
    await push(client, 'queue_depth{service="shop"}', 500, clock.now())
    (alert,) = (await client.get("/api/v1/alerts", params={"service": "shop"})).json()["alerts"][:1]
    assert alert["labels"] == {"alertname": "deep-queue", "service": "shop", "severity": "critical",
                               "series": 'queue_depth{service="shop"}'}
    assert alert["status"] == "firing" and alert["starts_at"] == T0 and alert["source"] == "rule:deep-queue"
    assert "500" in alert["annotations"]["summary"]
    [signal] = engine.store.signals(kind="threshold")
    assert signal.ts == T0  # the push was ruled in the pass that stored it

    await clock.advance(5)
    await push(client, 'queue_depth{service="shop"}', 70, clock.now())  # between clear and above: holds
    await push(client, 'queue_depth{service="shop"}', 20, clock.now())
    firing = (await client.get("/api/v1/alerts")).json()["alerts"]
    assert "deep-queue" not in [a["labels"]["alertname"] for a in firing]
    resolved = (await client.get("/api/v1/alerts", params={"state": "resolved"})).json()["alerts"]
    [over] = [a for a in resolved if a["labels"]["alertname"] == "deep-queue"]
    assert over["fingerprint"] == alert["fingerprint"] and over["ends_at"] == T0 + 5
    assert "back past 50" in over["annotations"]["resolution"]


async def test_an_absence_rule_fires_on_time_alone(vigil: Any) -> None:
    """One heartbeat, then nothing arrives that the rule reads: the tick's passes judge the silence."""
    clock, engine, client = vigil
    await push(client, 'heartbeat{service="shop"}', 1, clock.now())
    await clock.advance(50)
    assert engine.store.signals(kind="absence") == []
    await clock.advance(30)
    [gone] = engine.store.signals(kind="absence")
    assert T0 + 60 <= gone.ts <= T0 + 70  # `for: 1m`, judged every 10 s
    firing = {a["labels"]["alertname"] for a in (await client.get("/api/v1/alerts")).json()["alerts"]}
    assert "heartbeat-gone" in firing
    await push(client, 'heartbeat{service="shop"}', 1, clock.now())
    await clock.advance(11)
    resolved = (await client.get("/api/v1/alerts", params={"state": "resolved"})).json()["alerts"]
    assert [a["labels"]["alertname"] for a in resolved if a["labels"]["alertname"] == "heartbeat-gone"]


async def test_a_failing_probe_fires_once_and_resolves_when_healthy(vigil: Any) -> None:
    clock, engine, client = vigil
    await clock.advance(120)
    every = (await client.get("/api/v1/alerts", params={"state": "all"})).json()["alerts"]
    [probe] = [a for a in every if a["labels"]["alertname"] == "ProbeFailing"]
    assert probe["labels"] == {"alertname": "ProbeFailing", "service": "shop", "probe": "health",
                               "severity": "critical"}
    assert probe["status"] == "resolved" and probe["source"] == "health"
    starts = engine.collectors[0].starts
    assert probe["starts_at"] == starts[5]  # the third failure in a row
    assert probe["ends_at"] == starts[8]  # the second success in a row
    lines = [e.message for e in engine.store.events(kind="alert") if "ProbeFailing" in e.message]
    assert [m.split(" ")[0] for m in lines] == ["FIRING", "RESOLVED"]


async def test_bad_alert_state_is_refused(vigil: Any) -> None:
    _, _, client = vigil
    r = await client.get("/api/v1/alerts", params={"state": "open"})
    assert r.status_code == 400 and "firing, resolved, all" in r.text


async def test_a_firing_alert_survives_a_restart_and_resolves_after_it(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    _, engine = engine_for(tmp_path, clock, [False] * 5)
    await engine.start()
    await clock.advance(45)
    await engine.stop()
    assert [a.name for a in engine.store.alerts(status="firing")] == ["ProbeFailing"]
    engine.store.close()

    _, engine = engine_for(tmp_path, clock, [True] * 5)  # a new process: the probe is healthy again
    await engine.start()
    assert [a.name for a in engine.stages.book.firing.values()] == ["ProbeFailing"]
    await clock.advance(25)
    await engine.stop()
    [alert] = [a for a in engine.store.alerts(status=None) if a.name == "ProbeFailing"]
    events = [e.data["status"] for e in engine.store.events(kind="alert") if e.data["alertname"] == "ProbeFailing"]
    engine.store.close()
    assert alert.status.value == "resolved" and alert.starts_at < T0 + 45 <= alert.ends_at  # the first success
    assert events == ["firing", "resolved"]  # not fired a second time after the restart


async def test_a_push_while_the_engine_is_not_running_gets_503_and_stores_nothing(tmp_path: Path) -> None:
    app, engine = engine_for(tmp_path, FakeClock(T0), [])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil.test",
                                 headers={"Authorization": f"Bearer {KEY}"}) as client:
        r = await client.post("/api/v1/samples", json={"samples": [{"series": "x", "ts": T0, "value": 1}]})
    assert r.status_code == 503 and r.headers["retry-after"] == "5" and "not running" in r.text
    assert engine.store.list_series(name="x") == []
    engine.store.close()
