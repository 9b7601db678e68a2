"""The detect stage: every watched series goes through its own detector (scores), then a small
policy (threshold, consecutive points, cooldown) decides when a score becomes a Signal.

A series' first signal makes an `Anomaly` alert, held until related series corroborate it
(detect/corroboration.py: `detect.corroboration`), then fired; it resolves once the series has had no
anomalous point for `resolve_after` (normal points, or no data at all). Detector state is saved to the store
every few minutes and at stop, and loaded the first time a series is seen again, so a restart does not
forget what normal looks like; anomaly alerts firing at the stop are re-adopted from the alert book."""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from vigil.clock import Clock
from vigil.config import VigilConfig
from vigil.config.detect import DetectConfig
from vigil.config.types import Regex, compile_regex
from vigil.detect.corroboration import Corroboration, Pending, Verdict
from vigil.detect.significance import significant
from vigil.incidents.correlate import ServiceGraph
from vigil.model import Alert, Decision, Sample, SeriesKey, Severity, Signal
from vigil.pipeline import Batch, Offload
from vigil.stages.alerts import AlertBook
from vigil.store.faces import StateStore

log = logging.getLogger("vigil.detect")

SAVE_EVERY_S = 300.0
CRITICAL_SCORE = 0.95
ALERT_NAME = "Anomaly"
SMALL_SHARE = 0.5  # corroboration asks at most this share of the neighbourhood's watched series (at 1 each)
_UNSEEN = object()


@dataclass
class Watch:
    """One watched series: its detector and the policy's memory."""

    detector: Any
    service: str
    config: DetectConfig
    threshold: float
    run: int = 0  # anomalous points in a row
    run_start: float | None = None
    last_signal: float = float("-inf")
    dirty: bool = False


@dataclass
class OpenAnomaly:
    alert: Alert
    resolve_after: float
    last_anomalous: float  # sample time of the newest anomalous point
    seen_at: float  # engine time it arrived: silence is measured on this clock (samples may be old)


@dataclass
class ServicePolicy:
    config: DetectConfig
    include: list[Regex] = field(default_factory=list)
    exclude: list[Regex] = field(default_factory=list)

    @classmethod
    def of(cls, config: DetectConfig) -> ServicePolicy:  # RE2: series names may come from pushed data
        return cls(config, [compile_regex(p) for p in config.include],
                   [compile_regex(p) for p in config.exclude])

    def watches(self, name: str) -> bool:
        if not self.config.enabled:
            return False
        if self.include and not any(p.search(name) for p in self.include):
            return False
        return not any(p.search(name) for p in self.exclude)


def _warm_up(cls: Any) -> None:
    det = cls()
    det.score_many(np.arange(3, dtype=np.float64), np.zeros(3))
    det.update(3.0, 0.0)


def state_key(kind: str, key: SeriesKey) -> str:
    return f"detector:{kind}:{key}"


class DetectionStage:
    name = "detect"

    def __init__(self, config: VigilConfig, store: StateStore, writer: Offload, worker: Offload, clock: Clock,
                 book: AlertBook | None = None) -> None:
        self.store, self.writer, self.worker, self.clock, self.book = store, writer, worker, clock, book
        self.policies = {s.name: ServicePolicy.of(s.detect) for s in config.services}
        self.watches: dict[SeriesKey, Watch | None] = {}  # None: seen and not watched
        self.watched: Counter[str] = Counter()  # service -> its watched series
        self.open: dict[str, OpenAnomaly] = {}  # series -> its firing anomaly alert
        graph, hops = ServiceGraph({s.name: s.depends_on for s in config.services}), config.incidents.max_hops
        self.gate = Corroboration(lambda s: graph.within(s, hops),
                                  max((s.detect.corroboration.window for s in config.services), default=0.0))
        self._latest = float("-inf")  # the newest sample time judged
        self._last_save = clock.now()

    async def start(self) -> None:
        """Compile each detector's kernel off the event loop before data arrives: a first-use JIT
        compile inside the loop would stall probes and the API for seconds."""
        from vigil.detect import DETECTORS

        for kind in sorted({p.config.detector for p in self.policies.values() if p.config.enabled}):
            await self.worker.call(_warm_up, DETECTORS.load(kind))
        if self.book is not None:
            now = self.clock.now()
            for alert in await self.book.open_alerts("detector:"):
                policy = self.policies.get(alert.service)
                after = policy.config.resolve_after if policy is not None else 0.0
                self.open[alert.labels.get("series", "")] = OpenAnomaly(alert, after, now, now)

    async def run(self, batch: Batch) -> None:
        by_series: dict[SeriesKey, list[Sample]] = {}
        watches = self.watches
        for s in batch.samples:
            if watches.get(s.key, _UNSEEN) is None:
                continue  # seen before and not watched: the common case for pushed series, kept cheap
            by_series.setdefault(s.key, []).append(s)
        for key, samples in by_series.items():
            watch = await self._watch_for(key)
            if watch is None:
                continue
            samples.sort(key=lambda x: x.ts)
            for s in samples:
                self._judge(key, watch, s, batch)
        for series in [k for k, o in self.open.items() if batch.now - o.seen_at >= o.resolve_after]:
            self._resolve(series, batch.now, batch)
        for lapsed in self.gate.lapse(self._latest):
            batch.decisions.append(Decision(
                self._latest, "anomaly_alert", lapsed.series, "not_corroborated",
                {"service": lapsed.service, "signal_at": lapsed.held_at, "window_s": lapsed.window},
                {"fired": False}))
        if self.clock.now() - self._last_save >= SAVE_EVERY_S:
            await self.save()

    async def _watch_for(self, key: SeriesKey) -> Watch | None:
        if key in self.watches:
            return self.watches[key]
        service = key.label_map.get("service", "")
        policy = self.policies.get(service)
        watch = None
        if policy is not None and policy.watches(key.name):
            watch = await self._new_watch(key, service, policy.config)
            self.watched[service] += 1
        self.watches[key] = watch
        return watch

    async def _new_watch(self, key: SeriesKey, service: str, config: DetectConfig) -> Watch:
        from vigil.detect import DETECTORS

        cls = DETECTORS.load(config.detector)
        blob = await self.worker.call(self.store.load_state, state_key(config.detector, key))
        detector = None
        if blob is not None:
            try:
                detector = cls.from_state(blob)
            except Exception:  # a state from an older version: start learning again, and say so
                log.warning("could not restore detector state for %s; learning afresh", key)
        if detector is None:
            detector = cls()
        threshold = config.threshold or cls.THRESHOLDS["standard"]
        return Watch(detector, service, config, threshold)

    def _judge(self, key: SeriesKey, watch: Watch, s: Sample, batch: Batch) -> None:
        score = watch.detector.update(s.ts, s.value)
        watch.dirty = True
        self._latest = max(self._latest, s.ts)
        series = str(key)
        opened = self.open.get(series)
        # A high score for a change below the practical significance of the series' unit is not a signal.
        if score.value < watch.threshold or not significant(key.name, s.value, watch.detector,
                                                            watch.config.min_change):
            watch.run, watch.run_start = 0, None
            if opened is not None and s.ts - opened.last_anomalous >= opened.resolve_after:
                self._resolve(series, s.ts, batch)
            return
        if opened is not None:
            opened.last_anomalous, opened.seen_at = s.ts, batch.now
        elif series in self.gate.pending:
            self.gate.pending[series].last_anomalous = s.ts
        watch.run += 1
        watch.run_start = watch.run_start if watch.run_start is not None else s.ts
        config = watch.config
        if watch.run < config.consecutive or s.ts - watch.last_signal < config.cooldown:
            return
        watch.last_signal = s.ts
        signal = Signal(
            ts=s.ts, service=watch.service, series=series, kind="anomaly",
            severity=Severity.CRITICAL if score.value >= CRITICAL_SCORE else Severity.WARNING,
            score=round(float(score.value), 4), reason=score.reason, source=f"detector:{config.detector}",
            window_start=watch.run_start, window_end=s.ts,
            evidence={"value": s.value, "threshold": watch.threshold, "consecutive": watch.run})
        batch.signals.append(signal)
        self.gate.add(s.ts, watch.service, series, signal.score)
        if opened is None:
            self._propose(Alert.from_signal(signal, ALERT_NAME), series, watch, s.ts, batch)

    def _propose(self, alert: Alert, series: str, watch: Watch, ts: float, batch: Batch) -> None:
        """A new anomaly alert: fired when corroborated, with the held ones of its neighbourhood."""
        rule = watch.config.corroboration
        if rule.evidence <= 0:
            self._fire(Pending(series, watch.service, alert, ts, rule.window, ts), None, batch)
            return
        self.gate.hold(series, watch.service, alert, ts, rule.window)
        firing = itertools.chain(self.book.firing.values() if self.book is not None else
                                 (o.alert for o in self.open.values()), (a for a in batch.alerts if a.firing))
        # never more than half of what the neighbourhood's series could give: a small service can page
        could = sum(self.watched[s] for s in self.gate.near(watch.service))
        verdict = self.gate.judge(watch.service, ts, min(rule.evidence, SMALL_SHARE * could), rule.window, firing)
        if verdict.corroborated:
            for held in self.gate.release(watch.service):
                self._fire(held, verdict, batch)

    def _fire(self, held: Pending, verdict: Verdict | None, batch: Batch) -> None:
        alert = held.alert
        if verdict is not None:
            why = (f"corroborated by {verdict.by_alert} firing nearby" if verdict.by_alert else
                   f"corroborated: detector scores summing to {verdict.evidence:g} over {len(verdict.series)} "
                   f"series nearby ({', '.join(verdict.series[:5])}{', ...' if len(verdict.series) > 5 else ''})")
            alert = replace(alert, annotations={**alert.annotations, "corroboration": why})
            batch.decisions.append(Decision(
                batch.now, "anomaly_alert", held.series, "corroborated",
                {"service": held.service, "signal_at": held.held_at, "evidence": verdict.evidence,
                 "series": list(verdict.series), "firing_nearby": verdict.by_alert},
                {"fired": True, "fingerprint": alert.fingerprint}))
        policy = self.policies.get(held.service)
        after = policy.config.resolve_after if policy is not None else 0.0
        self.open[held.series] = OpenAnomaly(alert, after, held.last_anomalous, batch.now)
        batch.alerts.append(alert)

    def _resolve(self, series: str, at: float, batch: Batch) -> None:
        opened = self.open.pop(series)
        batch.alerts.append(opened.alert.resolve(
            at, f"no anomalous point for {opened.resolve_after:.0f} s"))

    async def save(self) -> None:
        """Persist the state of every detector that learned something since the last save."""
        self._last_save = self.clock.now()
        dirty = [(k, w) for k, w in self.watches.items() if w is not None and w.dirty]
        for key, watch in dirty:
            await self.writer.call(self.store.save_state, state_key(watch.config.detector, key),
                                   watch.detector.state())
            watch.dirty = False

    async def close(self) -> None:
        await self.save()
