"""The forecast stage: the series each service names in `services[].forecast` get a champion model
(vigil.forecast.champion), retrained on a schedule (`retrain_every`) and when a drift signal arrives
for them. Every retrain and every rollback is a recorded Decision (kind `forecast_model`). Series with a
`limit` get capacity warnings: a Signal and a firing `CapacityWarning` alert, one open per series,
resolved when the forecast no longer crosses. Limits are checked at each retrain and, between
retrains, every `check_every` with the current champion (no refit), so a warning fires or resolves
within minutes.

A cycle (store reads, backtests, fits) is heavy: the stage starts it on the worker at most every
`CYCLE_EVERY_S` of engine time (at once on a drift signal) and the pass goes on; the pass after it
finished takes its decisions, signals and alerts into its batch. Model versions are saved by the
cycle through the store writer; the open warnings travel in the batch and are saved after the records,
so they survive a restart: a series that still crosses after a restart does not warn again."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import orjson

from vigil.clock import Clock
from vigil.config import VigilConfig
from vigil.config.forecast import ForecastConfig, ForecastSeriesConfig
from vigil.forecast.base import Forecaster
from vigil.forecast.capacity import limit_crossing, time_to_limit
from vigil.forecast.champion import ModelRegistry, ModelVersion, Verdict
from vigil.model import Alert, Decision, Forecast, SeriesKey, Severity, Signal
from vigil.pipeline import Batch, Offload
from vigil.stages.record import RecordStage
from vigil.store.faces import ForecastStore, StateStore

log = logging.getLogger("vigil.forecast")

CYCLE_EVERY_S = 60.0  # how often the schedule is checked (a drift signal starts a cycle at once)
HOUR = 3600.0
SEASONS = (24, 168)  # on hourly roll-ups: the day and the week
WARNINGS_VERSION = 1  # format of the saved open warnings
MAX_OPEN = 2_000  # open warnings saved per service: the newest are kept


class NoPreviousModel(Exception):
    """A rollback was asked for a series whose champion has no predecessor."""


class WriterStateStore:
    """The champion registry's StateStore over vigil's store, used from the worker thread: reads
    directly, writes handed to the engine's one writer thread, waiting for each to land."""

    def __init__(self, store: StateStore, writer: Offload) -> None:
        self.store, self.writer = store, writer

    def save_state(self, key: str, blob: bytes) -> None:
        self.writer.call_blocking(self.store.save_state, key, blob)

    def load_state(self, key: str) -> bytes | None:
        return self.store.load_state(key)


@dataclass
class Watched:
    service: str
    key: SeriesKey
    config: ForecastSeriesConfig


@dataclass
class Outcome:
    """What a cycle (or a rollback) concluded; taken into the next pass's batch."""

    decisions: list[Decision] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)  # services whose open warnings changed


def warnings_key(service: str) -> str:
    return f"forecast-warnings:{service}"


def encode_warnings(service: str, open_: list[Signal]) -> bytes:
    newest = sorted(open_, key=lambda w: w.ts)[-MAX_OPEN:]
    doc = {"version": WARNINGS_VERSION, "service": service, "open": [asdict(w) for w in newest]}
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


def decode_warnings(service: str, blob: bytes) -> list[Signal] | None:
    """The saved open warnings of a service, or None (logged) for a blob this version cannot read: the
    worst case is a warning raised once more, never a failed start."""
    try:
        data = orjson.loads(blob)
        if data["version"] != WARNINGS_VERSION:
            raise ValueError(f"format version {data['version']!r}, not {WARNINGS_VERSION}")
        return [Signal(**{**w, "ts": float(w["ts"]), "series": str(w["series"]), "service": service,
                          "severity": Severity(w["severity"]), "evidence": dict(w["evidence"])})
                for w in data["open"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
        log.warning("saved open capacity warnings of %s could not be read (%s): ignored", service, e)
        return None


def capacity_alert(warning: Signal) -> Alert:
    """The alert of an open capacity warning (the same labels whenever it is rebuilt)."""
    return Alert.from_signal(warning, "CapacityWarning")


def _version_view(v: ModelVersion | None) -> dict[str, Any] | None:
    return None if v is None else {"version": v.version, "kind": v.kind, "trained_at": v.trained_at,
                                   "backtest": v.backtest}


def _rule(before: ModelVersion | None, verdicts: list[Verdict]) -> str:
    if before is None:
        return "first"
    if any(v.promoted and v.candidate.kind != before.kind for v in verdicts):
        return "promoted"
    return "refresh" if verdicts[0].promoted else "kept"


def forecast_from_now(forecaster: Forecaster, champion: ModelVersion, cfg: ForecastConfig,
                      now: float) -> Forecast:
    """The champion's forecast for `horizon` from the current hour on: a model fitted hours ago (its
    history ended at the hour of its training) predicts that much further ahead."""
    h = int(np.ceil(cfg.horizon / HOUR))
    hour = np.floor(now / HOUR) * HOUR
    behind = max(0, int((hour - np.floor(champion.trained_at / HOUR) * HOUR) // HOUR))
    fc = forecaster.predict(h + behind, (cfg.level,))
    keep = np.flatnonzero(fc.ts >= hour)[:h]
    intervals = {k: (lo[keep], hi[keep]) for k, (lo, hi) in fc.intervals.items()}
    return Forecast(fc.ts[keep], fc.mean[keep], intervals, fc.model, fc.fallback_reason)


class ForecastingStage:
    name = "forecast"

    def __init__(self, config: VigilConfig, store: ForecastStore, writer: Offload, worker: Offload,
                 clock: Clock, record: RecordStage) -> None:
        self.store, self.writer, self.worker, self.clock = store, writer, worker, clock
        self.record = record  # writes what a cycle finished after the last pass, at stop
        self.configs: dict[str, ForecastConfig] = {
            s.name: s.forecast for s in config.services if s.forecast.enabled and s.forecast.series}
        self.registries: dict[str, ModelRegistry] = {}
        self.watched: dict[str, Watched] = {}  # series -> what watches it
        self.current: dict[str, dict[str, Any]] = {}  # series -> the forecast served by the API
        self.open: dict[str, Signal] = {}  # series -> its open capacity warning (saved in the store)
        self._checked: dict[str, float] = {}  # series -> when its limit was last checked
        self.retrains = 0
        self._drifts: dict[str, Signal] = {}
        self._lock = asyncio.Lock()  # one cycle or rollback at a time: both change the registries
        self._job: asyncio.Future[Outcome] | None = None
        self._done: list[Outcome] = []  # finished, not yet in a batch
        self._next_cycle = float("-inf")

    # ------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        state = WriterStateStore(self.store, self.writer)
        for service, cfg in self.configs.items():
            self.registries[service] = ModelRegistry(state, SEASONS, level=cfg.level,
                                                     retrain_every=cfg.retrain_every)
            await self._restore(service)

    async def _restore(self, service: str) -> None:
        try:
            blob = await self.worker.call(self.store.load_state, warnings_key(service))
        except Exception:  # warnings work without their past: at worst one is raised again
            log.exception("could not load the open capacity warnings of %s", service)
            return
        for w in (decode_warnings(service, blob) or []) if blob is not None else []:
            self.open[w.series] = w
        if blob is not None:
            log.info("restored open capacity warnings of %s: %d", service,
                     sum(w.service == service for w in self.open.values()))

    async def run(self, batch: Batch) -> None:
        """Take what finished into the batch; start a cycle when one is due (drift signals of services
        that forecast make it due at once)."""
        if not self.configs:
            return
        for s in batch.signals:
            if s.kind == "drift" and s.service in self.configs:
                self._drifts[s.series] = s
                self._next_cycle = batch.now
        self._collect(batch)
        if self._job is None and batch.now >= self._next_cycle:
            self._next_cycle = batch.now + CYCLE_EVERY_S
            drifts, self._drifts = self._drifts, {}
            self._job = asyncio.ensure_future(self._locked(self._cycle, batch.now, drifts))

    def _collect(self, batch: Batch) -> None:
        if self._job is not None and self._job.done():
            job, self._job = self._job, None
            try:
                self._done.append(job.result())
            except Exception:
                log.exception("forecast cycle failed; the next one tries again")
        for out in self._done:
            batch.decisions.extend(out.decisions)
            batch.signals.extend(out.signals)
            batch.alerts.extend(out.alerts)
            for service in sorted(out.changed):
                batch.state[warnings_key(service)] = self._warnings_blob(service)
        self._done = []

    async def _locked(self, fn: Any, *args: Any) -> Any:
        async with self._lock:
            return await self.worker.call(fn, *args)

    def _warnings_blob(self, service: str) -> bytes:
        return encode_warnings(service, [w for w in self.open.values() if w.service == service])

    async def close(self) -> None:
        """A cycle still running finishes; what it concluded after the last pass is written here."""
        if self._job is not None:
            await asyncio.gather(self._job, return_exceptions=True)
        batch = Batch(now=self.clock.now())
        self._collect(batch)
        await self.record.run(batch)

    # ------------------------------------------------------------------------------ the work (in a thread)

    def _cycle(self, now: float, drifts: dict[str, Signal]) -> Outcome:
        out = Outcome()
        for service, cfg in self.configs.items():
            registry = self.registries[service]
            for watched in self._resolve(service, cfg):
                series = str(watched.key)
                try:
                    if series in drifts:
                        registry.on_drift(series)  # persisted: a restart still retrains it
                    trigger = self._due(registry, series, cfg, now)
                    if trigger is not None:
                        self._retrain(watched, cfg, trigger, drifts.get(series), now, out)
                    elif series not in self.current and registry.champion(series) is not None:
                        self._publish(watched, cfg, now, out)  # after a restart: serve the stored champion
                    elif now - self._checked.get(series, -np.inf) >= cfg.check_every:
                        self._check(watched, cfg, now, out)
                except Exception:  # one series must not stop the others
                    log.exception("forecast of %s failed", series)
        return out

    def _resolve(self, service: str, cfg: ForecastConfig) -> list[Watched]:
        found = []
        for sc in cfg.series:
            sel = SeriesKey.parse(sc.series)
            for info in self.store.list_series(name=sel.name, matchers={**sel.label_map, "service": service}):
                w = self.watched.setdefault(str(info.key), Watched(service, info.key, sc))
                found.append(w)
        return found

    @staticmethod
    def _due(registry: ModelRegistry, series: str, cfg: ForecastConfig, now: float) -> str | None:
        """first | drift | schedule (the last retrain, promoted or not, counts) | None."""
        m = registry.models(series)
        if m.champion is None:
            return "first"
        if m.drift_pending:
            return "drift"
        last = max(v.trained_at for v in m.versions)
        return "schedule" if now - last >= cfg.retrain_every else None

    def _history(self, key: SeriesKey, now: float, span: float) -> tuple[np.ndarray, np.ndarray]:
        """Hourly means over the last `span`, complete hours only, on a regular grid (NaN for hours
        without data), from the first hour that has data."""
        end = np.floor(now / HOUR) * HOUR
        grid = np.arange(end - np.floor(span / HOUR) * HOUR, end, HOUR)
        r = self.store.query_range(key, grid[0], end - 1e-3, step=HOUR)
        y = np.full(grid.size, np.nan)
        ts = np.asarray(r.ts, float)
        inside = (ts >= grid[0]) & (ts < end)
        y[((ts[inside] - grid[0]) // HOUR).astype(int)] = np.asarray(r.values, float)[inside]
        seen = np.flatnonzero(np.isfinite(y))
        first = seen[0] if seen.size else grid.size
        return grid[first:], y[first:]

    def _retrain(self, watched: Watched, cfg: ForecastConfig, trigger: str, drift: Signal | None,
                 now: float, out: Outcome) -> None:
        series = str(watched.key)
        ts, y = self._history(watched.key, now, cfg.history)
        if y.size == 0:
            return
        registry = self.registries[watched.service]
        before = registry.champion(series)
        verdicts = registry.retrain(series, y, now, cfg.challengers, ts, first=cfg.forecaster)
        after = registry.champion(series)
        self.retrains += 1
        why = {"first": "no model yet", "schedule": f"every {cfg.retrain_every:.0f} s",
               "drift": drift.reason if drift is not None else "drift signal (before a restart)"}[trigger]
        out.decisions.append(Decision(
            ts=now, kind="forecast_model", subject=series, rule=_rule(before, verdicts),
            inputs={"service": watched.service, "series": series, "trigger": trigger, "reason": why,
                    "history_hours": int(np.isfinite(y).sum()), "champion_before": _version_view(before),
                    "candidates": [{**(_version_view(v.candidate) or {}), "promoted": v.promoted,
                                    "reason": v.reason} for v in verdicts]},
            result={"version": after.version if after else None, "kind": after.kind if after else None,
                    "previous_version": before.version if before else None}))
        self._publish(watched, cfg, now, out, ts, y)

    def _publish(self, watched: Watched, cfg: ForecastConfig, now: float, out: Outcome,
                 ts: np.ndarray | None = None, y: np.ndarray | None = None) -> None:
        """Forecast with the current champion, serve it, and settle the series' capacity warning."""
        series = str(watched.key)
        registry = self.registries[watched.service]
        champion, forecaster = registry.champion(series), registry.forecaster(series)
        if champion is None or forecaster is None:
            return
        fc = forecaster.predict(int(np.ceil(cfg.horizon / HOUR)), (cfg.level,))  # from its history's end
        lo, hi = fc.intervals[cfg.level]
        self.current[series] = {
            "service": watched.service, "series": series, "model": fc.model, "kind": champion.kind,
            "version": champion.version, "trained_at": champion.trained_at, "level": cfg.level,
            "fallback_reason": fc.fallback_reason, "ts": fc.ts, "mean": fc.mean, "lo": lo, "hi": hi,
            "backtest": champion.backtest}
        self._check(watched, cfg, now, out, (champion, forecaster), ts, y)

    def _check(self, watched: Watched, cfg: ForecastConfig, now: float, out: Outcome,
               model: tuple[ModelVersion, Forecaster] | None = None,
               ts: np.ndarray | None = None, y: np.ndarray | None = None) -> None:
        """Settle the series' capacity warning as of now, without refitting: the champion's forecast of
        the hours from now (`warn_by: forecast`) or the trend of the latest hourly history (`trend`)."""
        series = str(watched.key)
        self._checked[series] = now
        sc = watched.config
        if sc.limit is None:
            return
        what = sc.what or watched.key.name
        if sc.warn_by == "trend":
            if ts is None or y is None:
                ts, y = self._history(watched.key, now, cfg.history)
            signal = time_to_limit(y, ts, sc.limit, now=now, service=watched.service, series=series,
                                   what=what, unit=sc.unit) if y.size else None
        else:
            if model is None:
                registry = self.registries[watched.service]
                champion, forecaster = registry.champion(series), registry.forecaster(series)
                if champion is None or forecaster is None:
                    return
                model = champion, forecaster
            signal = limit_crossing(forecast_from_now(model[1], model[0], cfg, now), sc.limit, now=now,
                                    service=watched.service, series=series, what=what, unit=sc.unit,
                                    level=cfg.level)
        self._settle(watched, signal, now, out)

    def _settle(self, watched: Watched, signal: Signal | None, now: float, out: Outcome) -> None:
        """One open warning per series (and its one limit): a Signal and a firing alert when it opens,
        the alert resolved when it ends."""
        series = str(watched.key)
        opened = self.open.get(series)
        if signal is not None and opened is None:
            self.open[series] = signal
            out.signals.append(signal)
            out.alerts.append(capacity_alert(signal))
            out.changed.add(watched.service)
        elif signal is None and opened is not None:
            del self.open[series]
            out.changed.add(watched.service)
            out.alerts.append(capacity_alert(opened).resolve(
                now, f"the forecast no longer reaches {watched.config.limit:g}{watched.config.unit}"))

    # ------------------------------------------------------------------------------ rollback (API)

    async def rollback(self, series: str) -> Decision:
        """Make the series' previous champion current again, as a Decision recorded by the next pass.
        KeyError if the series is not forecast; NoPreviousModel if there is nothing to go back to."""
        watched = self.watched.get(series)
        if watched is None:
            raise KeyError(series)
        decision, out = await self._locked(self._rollback, watched, self.clock.now())
        out.decisions.insert(0, decision)
        self._done.append(out)
        return decision

    def _rollback(self, watched: Watched, now: float) -> tuple[Decision, Outcome]:
        series = str(watched.key)
        registry = self.registries[watched.service]
        before = registry.champion(series)
        after = registry.rollback(series)
        if after is None:
            raise NoPreviousModel(f"{series} has no earlier champion to roll back to")
        out = Outcome()
        self._publish(watched, self.configs[watched.service], now, out)
        decision = Decision(
            ts=now, kind="forecast_model", subject=series, rule="rollback",
            inputs={"service": watched.service, "series": series, "trigger": "api",
                    "reason": "rollback requested through the API", "champion_before": _version_view(before)},
            result={"version": after.version, "kind": after.kind,
                    "previous_version": before.version if before else None})
        return decision, out
