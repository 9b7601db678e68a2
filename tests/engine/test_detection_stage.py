"""The detect stage in the real engine, as a timeline on a fake clock: a latency series that is
normal for a while, then jumps, gives one anomaly signal with a reason and one alert that resolves
once the series is normal again; detector state and open alerts survive a restart. (One watched
series: its own strong signal is all the corroboration asked, see test_corroboration.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vigil.app import build_app
from vigil.config import parse_config
from vigil.model import Sample, SeriesKey
from vigil.sources import Collection
from vigil.testing import FakeClock, InlineWriter

T0 = 1_700_000_000.0
CFG = """
store: {{url: "sqlite:///{db}"}}
services:
  - name: catalog
    detect: {{cooldown: 5m}}
"""


class SeriesCollector:
    """A metric source replaying scripted values, one per 10 s run."""

    kind, name, service, interval, timeout = "scrape", "scrape", "catalog", 10.0, 2.0

    def __init__(self, values: list[float]) -> None:
        self.values = list(values)
        self.latency = SeriesKey.of("latency_ms", {"service": "catalog"})
        self.up = SeriesKey.of("up", {"service": "catalog"})

    async def collect(self, now: float) -> Collection:
        v = self.values.pop(0) if self.values else 100.0
        return Collection("catalog", "scrape", now, samples=[Sample(self.latency, now, v), Sample(self.up, now, 1.0)])


def normal(n: int, seed: int = 1) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(100 + rng.normal(0, 3, n))


async def run(db: Path, values: list[float], seconds: float, start: float = T0) -> tuple[Any, Any]:
    cfg = parse_config(CFG.format(db=db), env={})
    clock = FakeClock(start)
    app, engine = build_app(cfg, clock=clock, collectors=[SeriesCollector(values)], writer=InlineWriter(),
                            worker=InlineWriter())
    await engine.start()
    await clock.advance(seconds)
    await engine.stop()
    return engine, engine.store


async def test_a_jump_becomes_one_signal_with_a_reason(tmp_path: Path) -> None:
    values = normal(200) + [900.0] * 5 + normal(20, seed=2)
    engine, store = await run(tmp_path / "v.db", values, 10 * 224 + 5)
    signals = store.signals(service="catalog")
    store.close()
    assert len(signals) == 1, [s.reason for s in signals]  # cooldown: the 5 high points are one signal
    sig = signals[0]
    assert sig.kind == "anomaly" and sig.series == 'latency_ms{service="catalog"}'
    assert sig.ts == pytest.approx(T0 + 2000, abs=10)
    assert "900" in sig.reason and sig.source == "detector:ensemble"
    assert sig.score >= engine.stages.detect.watches[SeriesKey.of("latency_ms", {"service": "catalog"})].threshold


async def test_an_anomaly_alert_fires_once_and_resolves_after_a_quiet_spell(tmp_path: Path) -> None:
    values = normal(200) + [900.0] * 5 + normal(40, seed=2)
    engine, store = await run(tmp_path / "v.db", values, 10 * 246)
    [alert] = store.alerts(status=None)
    lines = [e.data["status"] for e in store.events(kind="alert")]
    store.close()
    assert lines == ["firing", "resolved"]
    assert alert.name == "Anomaly" and alert.labels["series"] == 'latency_ms{service="catalog"}'
    assert alert.source == "detector:ensemble" and "900" in alert.summary
    assert alert.ends_at is not None
    # resolved at the first normal point 300 s (resolve_after) after the last anomalous one, which is
    # within the five high points (the detector accepts a level that holds)
    assert 300 <= alert.ends_at - alert.starts_at <= 300 + 5 * 10
    assert alert.status.value == "resolved" and alert.annotations["resolution"] == "no anomalous point for 300 s"
    assert not engine.stages.detect.open


async def test_an_anomaly_alert_open_at_a_restart_still_resolves(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    _, store = await run(db, normal(200) + [900.0] * 5, 10 * 206)
    assert [a.status.value for a in store.alerts(status=None)] == ["firing"]
    store.close()
    engine2, store2 = await run(db, [], 10 * 40, start=T0 + 10 * 206)  # no data at all after the restart
    [alert] = store2.alerts(status=None)
    store2.close()
    assert alert.status.value == "resolved" and alert.ends_at == pytest.approx(T0 + 10 * 206 + 300, abs=2)
    assert "no anomalous point for 300 s" in alert.annotations["resolution"]


async def test_normal_data_gives_no_signal_and_up_is_not_watched(tmp_path: Path) -> None:
    engine, store = await run(tmp_path / "v.db", normal(150), 10 * 150)
    stage = engine.stages.detect
    assert store.signals() == [] and store.alerts(status=None) == []
    assert stage.watches[SeriesKey.of("up", {"service": "catalog"})] is None
    store.close()


async def test_detector_state_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    engine, store = await run(db, normal(100), 10 * 100)
    store.close()
    key = SeriesKey.of("latency_ms", {"service": "catalog"})
    first = engine.stages.detect.watches[key].detector
    seen_before = first.counters["seen"]
    engine2, store2 = await run(db, normal(10, seed=3), 10 * 10, start=T0 + 3600)
    second = engine2.stages.detect.watches[key].detector
    store2.close()
    assert seen_before >= 95
    assert second.counters["seen"] >= seen_before + 9  # it went on from the saved state


async def test_explain_shows_recorded_and_replayed_signals(tmp_path: Path) -> None:
    from vigil.explain import explain

    db = tmp_path / "v.db"
    values = normal(200) + [900.0] * 3 + normal(20, seed=2)
    _, store = await run(db, values, 10 * 223 + 5)
    cfg = parse_config(CFG.format(db=db), env={})
    ex = await explain(cfg, store, "catalog", T0, T0 + 3000, replay=True)
    before = len(store.signals())
    store.close()
    assert [s.series for s in ex.signals] == ['latency_ms{service="catalog"}']
    assert any(e.kind == "engine" for e in ex.events) is False  # engine events have no service
    assert ex.replayed is not None and ex.replayed_series == 1 and ex.replayed_points >= 2 * 223
    assert [round(s.ts) for s in ex.replayed] == [round(ex.signals[0].ts)]  # same data, same verdict
    assert before == len(ex.signals)  # the replay wrote nothing


def test_explain_command(tmp_path: Path) -> None:
    import asyncio

    from typer.testing import CliRunner

    from vigil.cli import app

    db = tmp_path / "v.db"
    values = normal(200) + [900.0] * 3
    _, store = asyncio.run(run(db, values, 10 * 205))
    store.close()
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(CFG.format(db=db))
    result = CliRunner().invoke(app, ["explain", "catalog", "-c", str(cfg), "--since", str(T0),
                                      "--until", str(T0 + 3000), "--replay"])
    assert result.exit_code == 0, result.output
    assert "signal anomaly" in result.output and "would signal anomaly" in result.output
    bad = CliRunner().invoke(app, ["explain", "nope", "-c", str(cfg)])
    assert bad.exit_code == 2 and "unknown service" in bad.output
