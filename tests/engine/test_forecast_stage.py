"""The forecast stage in the real engine, as timelines on a fake clock with a real SQLite store holding
two weeks of hourly history: retrains on schedule and on drift (each a recorded Decision), a worse
challenger is not promoted, a capacity warning fires once and resolves at the next check (not the next
retrain), and open warnings survive a restart."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from vigil.app import build_app
from vigil.config import parse_config
from vigil.config.forecast import ForecastConfig
from vigil.forecast import create
from vigil.forecast.capacity import time_to_limit
from vigil.forecast.champion import ModelVersion
from vigil.model import Sample, SeriesKey, Severity, Signal
from vigil.pipeline import Batch
from vigil.sources import Collection
from vigil.stages.forecasting import forecast_from_now
from vigil.testing import FakeClock, InlineWriter

HOUR, DAY = 3600.0, 86400.0
T0 = 472_222 * HOUR  # on the hour, Nov 2023
STEP = 600.0
CPU = SeriesKey.of("cpu_percent", {"service": "shop"})
DISK = SeriesKey.of("disk_used_gb", {"service": "shop"})
CLEANED_AT = T0 + 1.5 * HOUR

CFG = """
store: {{url: "sqlite:///{db}"}}
services:
  - name: shop
    detect: {{enabled: false}}
    forecast:
      retrain_every: 6h
      check_every: 15m
      challengers: [{challengers}]
      series:
        - series: cpu_percent
        - series: disk_used_gb
          limit: 100
          warn_by: trend
          what: disk
          unit: GB
"""


def cpu(t: np.ndarray) -> np.ndarray:
    """A daily cycle with noise: the profile model's home ground."""
    rng = np.random.default_rng(int(t[0]) % 1000)
    return 50 + 20 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 2, t.size)


def disk(t: np.ndarray) -> np.ndarray:
    """Grows 1 GB a day (78 GB at T0, full in ~3 weeks) until a clean-up at CLEANED_AT leaves 10 GB."""
    return np.where(t < CLEANED_AT, 78 + (t - T0) / DAY, 10.0)


class ShopCollector:
    kind, name, service, interval, timeout = "scrape", "scrape", "shop", STEP, 2.0

    async def collect(self, now: float) -> Collection:
        t = np.array([now])
        return Collection("shop", "scrape", now, samples=[Sample(CPU, now, float(cpu(t)[0])),
                                                          Sample(DISK, now, float(disk(t)[0]))])


def prefill(store: Any, days: int = 14) -> None:
    t = T0 - days * DAY + STEP * np.arange(int(days * DAY / STEP))
    store.write_batch([CPU] * t.size + [DISK] * t.size, np.concatenate([t, t]), np.concatenate([cpu(t), disk(t)]))


def forecast_stage(engine: Any) -> Any:
    return engine.stages.forecast


async def start(tmp_path: Path, challengers: str = "", at: float = T0, fill: bool = True,
                **parts: Any) -> tuple[Any, FakeClock]:
    cfg = parse_config(CFG.format(db=tmp_path / "v.db", challengers=challengers), env={})
    clock = FakeClock(at)
    _, engine = build_app(cfg, clock=clock, collectors=[ShopCollector()], writer=InlineWriter(),
                          worker=InlineWriter(), **parts)
    if fill:
        prefill(engine.store)
    return engine, clock


async def step_until(engine: Any, clock: FakeClock, until: float) -> None:
    await clock.advance(until - clock.now())


def model_decisions(engine: Any, series: SeriesKey) -> list[Any]:
    return sorted(engine.store.decisions(kind="forecast_model", subject=str(series)), key=lambda d: d.ts)


async def test_retrains_on_schedule_and_keeps_a_worse_challenger_out(tmp_path: Path) -> None:
    engine, clock = await start(tmp_path, challengers="seasonal_naive_week")
    await engine.start()
    await step_until(engine, clock, T0 + 13 * HOUR)
    stage = forecast_stage(engine)
    current = stage.current[str(CPU)]
    await engine.stop()
    found = model_decisions(engine, CPU)
    engine.store.close()
    # first model at start, then every 6 h (checked each minute, at the next 10-minute step here)
    assert len(found) == 3, [(d.ts - T0, d.rule) for d in found]
    assert found[0].ts == T0 and found[0].rule == "first" and found[0].inputs["trigger"] == "first"
    for d, due in zip(found[1:], (T0 + 6 * HOUR, T0 + 12 * HOUR)):
        assert due <= d.ts <= due + STEP + 60, (d.ts - T0) / HOUR
        assert d.inputs["trigger"] == "schedule"
    for d in found:
        kinds = {c["kind"]: c for c in d.inputs["candidates"]}
        week = kinds["seasonal_naive_week"]
        assert not week["promoted"] and week["backtest"]["score"] > kinds["profile"]["backtest"]["score"]
        assert d.result["kind"] == "profile" and d.inputs["history_hours"] >= 14 * 24
    assert [d.rule for d in found[1:]] == ["refresh", "refresh"]
    assert current["kind"] == "profile" and current["version"] == found[-1].result["version"]
    assert len(current["mean"]) == 24 and (current["lo"] <= current["mean"]).all()
    assert current["backtest"]["mase"] < 1


class DriftAt:
    """A stand-in for the rules stage: one drift signal on the cpu series at a given time."""

    name = "drift-source"

    def __init__(self, at: float) -> None:
        self.at, self.sent = at, False

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def run(self, batch: Batch) -> None:
        if not self.sent and batch.now >= self.at:
            self.sent = True
            batch.signals.append(Signal(
                ts=batch.now, service="shop", series=str(CPU), kind="drift", severity=Severity.WARNING,
                score=0.9, reason="distribution shifted: KS p=0.001, PSI 0.4", source="rule:drift:cpu_percent"))


async def test_a_drift_signal_triggers_a_retrain_recorded_with_its_reason(tmp_path: Path) -> None:
    engine, clock = await start(tmp_path, replace={"rules": DriftAt(T0 + 2 * HOUR)})
    await engine.start()
    await step_until(engine, clock, T0 + 4 * HOUR)
    await engine.stop()
    found = model_decisions(engine, CPU)
    disk_found = model_decisions(engine, DISK)
    engine.store.close()
    assert [d.inputs["trigger"] for d in found] == ["first", "drift"]
    drift = found[1]
    assert T0 + 2 * HOUR <= drift.ts <= T0 + 2 * HOUR + STEP
    assert "KS p=0.001" in drift.inputs["reason"]
    assert drift.inputs["champion_before"]["version"] == 1 and drift.result["previous_version"] == 1
    assert len(disk_found) == 1  # the drift named the cpu series only


def trend_clears_at() -> float:
    """The first hour after the clean-up at which the 7-day trend of the disk's hourly means no longer
    reaches the limit (computed here from the data, not by the stage)."""
    for end in T0 + HOUR * np.arange(1, 12):
        hours = end - HOUR * np.arange(14 * 24, 0, -1)
        means = np.array([disk(h + STEP * np.arange(HOUR / STEP)).mean() for h in hours])
        if time_to_limit(means, hours, 100, now=end, service="shop", series=str(DISK)) is None:
            return float(end)
    raise AssertionError("the trend never cleared")


def capacity(engine: Any) -> tuple[list[Signal], list[Any]]:
    """The capacity signals, and the resolved alerts of capacity warnings (as alerts, newest state)."""
    warnings = engine.store.signals(service="shop", kind="capacity")
    resolved = [a for a in engine.store.alerts(status="resolved", service="shop") if a.name == "CapacityWarning"]
    return warnings, resolved


async def test_a_capacity_warning_fires_once_and_resolves_at_the_next_check(tmp_path: Path) -> None:
    engine, clock = await start(tmp_path)
    await engine.start()
    await step_until(engine, clock, T0 + 13 * HOUR)
    await engine.stop()
    warnings, resolved = capacity(engine)
    retrains = [d.ts for d in model_decisions(engine, DISK)]
    engine.store.close()
    assert len(warnings) == 1  # checked every 15 min and retrained twice: still one warning
    w = warnings[0]
    assert w.ts == T0 and w.series == str(DISK) and w.severity == Severity.INFO  # ~3 weeks away
    assert w.reason.startswith("disk full in 2") and "of 100GB" in w.reason
    # resolved by the first check after the trend cleared (checks every 15 min, seen at 10-minute steps),
    # hours before the next retrain at 6 h: no retrain in between
    clears = trend_clears_at()
    assert CLEANED_AT < clears < T0 + 6 * HOUR
    assert len(resolved) == 1 and clears <= resolved[0].ends_at <= clears + 15 * 60 + 60
    assert not [t for t in retrains if w.ts < t <= resolved[0].ends_at]
    assert "no longer reaches 100GB" in resolved[0].annotations["resolution"]
    assert resolved[0].starts_at == w.ts and resolved[0].labels["series"] == str(DISK)


async def test_an_open_warning_survives_a_restart(tmp_path: Path) -> None:
    engine, clock = await start(tmp_path)
    await engine.start()
    await step_until(engine, clock, T0 + HOUR)  # warned at T0, still crossing
    await engine.stop()
    assert len(capacity(engine)[0]) == 1
    engine.store.close()

    engine, clock = await start(tmp_path, at=T0 + HOUR, fill=False)  # same store, a new process
    await engine.start()
    stage = forecast_stage(engine)
    assert str(DISK) in stage.open  # restored before the first check
    await step_until(engine, clock, T0 + 6 * HOUR)
    await engine.stop()
    warnings, resolved = capacity(engine)
    engine.store.close()
    assert len(warnings) == 1 and warnings[0].ts == T0  # the checks after the restart did not warn again
    assert len(resolved) == 1 and resolved[0].starts_at == T0  # and the restored one still resolves


async def test_unreadable_saved_warnings_are_ignored(tmp_path: Path, caplog: Any) -> None:
    engine, clock = await start(tmp_path)
    engine.store.save_state("forecast-warnings:shop", b"{not json")
    with caplog.at_level(logging.WARNING, logger="vigil.forecast"):
        await engine.start()
        await step_until(engine, clock, T0 + STEP)
        await engine.stop()
    warnings, _ = capacity(engine)
    engine.store.close()
    assert "saved open capacity warnings of shop could not be read" in caplog.text
    assert len(warnings) == 1  # started without them, and warned afresh


def test_a_check_between_retrains_reads_the_champions_forecast_from_the_current_hour() -> None:
    hours = T0 - HOUR * np.arange(7 * 24, 0, -1)
    model = create("profile").fit(cpu(hours), season_length=(24, 168), ts=hours)
    champion = ModelVersion(1, "profile", trained_at=T0 + 600, backtest={}, promoted=True, reason="first")
    fc = forecast_from_now(model, champion, ForecastConfig(), now=T0 + 5.5 * HOUR)  # 5 h after its history
    ahead = model.predict(29)
    assert fc.ts[0] == T0 + 5 * HOUR and len(fc.ts) == 24  # the day from the current hour on
    assert np.array_equal(fc.mean, ahead.mean[5:])
    assert np.array_equal(fc.intervals[80][1], ahead.intervals[80][1][5:])
