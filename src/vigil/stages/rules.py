"""The rules stage: the rules declared per service (`services[].rules`) turned into Signals.

Threshold rules run streaming, on every new sample of their series; a ratio threshold (`per:`) on every
scrape time that brought a sample of either selector, from the newest sample of each. Window rules
(absence, rate of change, will cross, SLO burn, leak, drift) run every `evaluate_every` (default 30 s)
of engine time, over the series they need, read from the store off the event loop. Each rule (per
matching series) fires once per episode: a Signal and a firing Alert (named after the rule) when it
starts, the same Alert resolved when it clears, nothing in between.

Open episodes and running `for:` timers are saved to the store (see rule_state) when they change and at
stop, and restored at start: a restart neither fires a holding condition again nor restarts a timer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from vigil.clock import Clock
from vigil.config import VigilConfig
from vigil.config.rules import (
    AbsenceRuleConfig,
    DriftRuleConfig,
    LeakRuleConfig,
    RateOfChangeRuleConfig,
    SloRuleConfig,
    ThresholdRuleConfig,
    WillCrossRuleConfig,
)
from vigil.config.types import format_duration
from vigil.detect.rules import ThresholdRule, absence, burn_rate, rate_of_change, slo_burn, will_cross
from vigil.detect.sli import SliReader, selector_of
from vigil.detect.trends import drift, memory_leak
from vigil.model import Alert, Sample, SeriesKey, Severity, Signal
from vigil.pipeline import Batch, Offload
from vigil.stages import rule_state
from vigil.stages.rule_state import RuleState
from vigil.store.faces import RulesStore

log = logging.getLogger("vigil.rules")

RAW_UP_TO_S = 6 * 3600.0  # windows longer than this are read as 1-minute means (roll-ups)
SAVE_EVERY_S = 300.0  # pending timers' last sample times; episodes and timer starts are saved at once
RESUME_GAP_S = 300.0  # a `for:` timer goes on after a restart only if its series was seen this recently
STALE_S = 300.0  # a ratio threshold leaves out a series not seen for this long

Episode = tuple[str, int, str]  # (service, rule index, series or severity)


@dataclass
class Streaming:
    """A threshold rule of one service, and its state per matching series (a ratio rule, with `per:`:
    one state, keyed by `part`, and the newest (ts, value) of each series of either selector)."""

    service: str
    index: int
    config: ThresholdRuleConfig
    states: dict[SeriesKey | str, ThresholdRule] = field(default_factory=dict)
    part: str = ""  # a ratio rule's episode and series: "series / per"
    newest: tuple[dict[SeriesKey, tuple[float, float]], ...] = field(default_factory=lambda: ({}, {}))

    def __post_init__(self) -> None:
        self.selectors = [selector_of(self.config.series, self.service)]
        if self.config.per is not None:
            self.selectors.append(selector_of(self.config.per, self.service))
            self.part = f"{self.config.series} / {self.config.per}"

    def matches(self, key: SeriesKey, side: int = 0) -> bool:
        name, labels = self.selectors[side]  # the labels include the service
        have = key.label_map
        return key.name == name and all(have.get(k) == v for k, v in labels.items())

    def key(self, part: str) -> SeriesKey | str:
        return self.part or SeriesKey.parse(part)

    def take(self, s: Sample) -> bool:
        """A ratio rule keeps the sample if it matches either selector (or both)."""
        taken = False
        for side, newest in enumerate(self.newest):
            if self.matches(s.key, side) and s.ts >= newest.get(s.key, (-np.inf,))[0]:
                newest[s.key], taken = (s.ts, s.value), True
        return taken

    def ratio(self, now: float) -> tuple[float, float] | None:
        """(sum of the numerator's series, of the denominator's), from each one's newest sample; None
        when the denominator is 0 or absent."""
        sums = []
        for newest in self.newest:
            for key in [k for k, (ts, _) in newest.items() if now - ts > STALE_S]:
                del newest[key]
            sums.append(sum(v for _, v in newest.values() if np.isfinite(v)))
        return (sums[0], sums[1]) if sums[1] > 0 else None


@dataclass
class WindowRule:
    service: str
    index: int
    config: Any
    due: float = float("-inf")  # engine time of the next evaluation


def _new_state(rule: Streaming, key: SeriesKey | str) -> ThresholdRule:
    c = rule.config
    state = rule.states[key] = ThresholdRule(
        service=rule.service, series=str(key), limit=c.limit, above=c.above is not None, for_s=c.for_,
        clear=c.clear, severity=Severity(c.severity))
    return state


def _step(span: float) -> float | None:
    return None if span <= RAW_UP_TO_S else 60.0


class RulesStage:
    name = "rules"

    def __init__(self, config: VigilConfig, store: RulesStore, clock: Clock, writer: Offload,
                 worker: Offload) -> None:
        self.store, self.clock, self.writer, self.worker = store, clock, writer, worker
        self.sli = SliReader(store)
        self.streaming: dict[str, list[Streaming]] = {}
        self.thresholds: dict[tuple[str, int], Streaming] = {}
        self.windowed: list[WindowRule] = []
        self.ids: dict[tuple[str, int], str] = {}  # (service, rule index) -> the rule's name in saved state
        for s in config.services:
            for i, (rule, rid) in enumerate(zip(s.rules, rule_state.rule_ids(s.rules))):
                self.ids[(s.name, i)] = rid
                if isinstance(rule, ThresholdRuleConfig):
                    streaming = self.thresholds[(s.name, i)] = Streaming(s.name, i, rule)
                    for name in dict.fromkeys(name for name, _ in streaming.selectors):
                        self.streaming.setdefault(name, []).append(streaming)
                else:
                    self.windowed.append(WindowRule(s.name, i, rule))
        self.open: dict[Episode, Signal] = {}  # episodes under way
        self.started = clock.now()
        self.evaluations = 0
        self._dirty: set[str] = set()  # services whose saved state is out of date
        self._urgent = False  # an episode or timer started or ended: save at the end of this pass
        self._last_save = clock.now()

    async def start(self) -> None:
        self.started = self.clock.now()
        for service in dict.fromkeys(svc for svc, _ in self.ids):
            try:
                blob = await self.worker.call(self.store.load_state, rule_state.state_key(service))
            except Exception:  # rules work without their past: start afresh rather than not at all
                log.exception("could not load the rule state of %s; rules start afresh", service)
                continue
            if blob is not None:
                self._restore(service, blob)

    async def close(self) -> None:
        if self._dirty:
            await self.save()

    async def run(self, batch: Batch) -> None:
        if self.streaming and batch.samples:
            self._observe(sorted(batch.samples, key=lambda s: s.ts), batch)
        due = [r for r in self.windowed if batch.now >= r.due]
        if due:
            for r in due:  # on a fixed cadence (not drifting by each batch's lateness), at most once a batch
                every = r.config.evaluate_every
                r.due = r.due + every if r.due + every > batch.now else batch.now + every
            verdicts = await self.worker.call(self._evaluate, due, batch.now)
            self.evaluations += 1
            for rule, found in verdicts:
                self._settle(rule, found, batch)
        if self._dirty and (self._urgent or self.clock.now() - self._last_save >= SAVE_EVERY_S):
            await self.save()

    # ------------------------------------------------------------------------------ streaming

    def _observe(self, samples: list[Sample], batch: Batch) -> None:
        ratios: dict[int, Streaming] = {}  # ratio rules with new samples at time `ts`, judged once all are in
        ts = samples[0].ts
        for s in samples:
            if s.ts != ts:
                self._judge_ratios(ratios, ts, batch)
                ts = s.ts
            for rule in self.streaming.get(s.key.name, ()):
                if rule.part:
                    if rule.take(s):
                        ratios[id(rule)] = rule
                elif rule.matches(s.key):
                    self._judge(rule, s.key, s.ts, s.value, batch)
        self._judge_ratios(ratios, ts, batch)

    def _judge_ratios(self, ratios: dict[int, Streaming], ts: float, batch: Batch) -> None:
        for rule in ratios.values():
            sums = rule.ratio(ts)
            if sums is not None:  # no denominator: no value, the state stays as it is
                self._judge(rule, rule.part, ts, sums[0] / sums[1], batch, sums)
        ratios.clear()

    def _judge(self, rule: Streaming, key: SeriesKey | str, ts: float, value: float, batch: Batch,
               sums: tuple[float, float] | None = None) -> None:
        c = rule.config
        state = rule.states.get(key) or _new_state(rule, key)
        was_firing, was_since = state.firing, state.since
        signal = state.observe(ts, value)
        if state.since != was_since:
            self._changed(rule.service)  # a `for:` timer started or reset
        elif state.since is not None and not state.firing:
            self._dirty.add(rule.service)  # a pending timer's last sample moved on
        episode = (rule.service, rule.index, str(key))
        what = f"{rule.part} =" if rule.part else "value"
        if signal is not None:
            if sums is not None:
                side = "above" if c.above is not None else "below"
                held = format_duration((signal.window_end or ts) - (signal.window_start or ts))
                signal.reason = (f"{what} {value:.4g} ({value:.0%}) {side} {c.limit:.4g} for {held} "
                                 f"(rule: for {format_duration(c.for_)})")
                signal.evidence.update({"numerator": sums[0], "denominator": sums[1], "per": c.per})
            signal.source = f"rule:{c.title()}"
            signal.reason = f"{c.title()}: {signal.reason}"
            signal.evidence.update({"for_s": c.for_, "clear": c.clear})
            self._opened(episode, signal, batch)
        elif was_firing and not state.firing:
            level = c.clear if c.clear is not None else c.limit
            self._cleared(episode, ts, f"{what} {value:.4g} is back past {level:.4g}", batch)

    # ------------------------------------------------------------------------------ saved state

    def _changed(self, service: str) -> None:
        self._dirty.add(service)
        self._urgent = True

    async def save(self) -> None:
        """Write the state of every service whose episodes or timers changed since the last save."""
        self._last_save, self._urgent = self.clock.now(), False
        for service in sorted(self._dirty):
            blob = rule_state.encode(service, float(self._last_save), self._snapshot(service))
            await self.writer.call(self.store.save_state, rule_state.state_key(service), blob)
            self._dirty.discard(service)

    def _snapshot(self, service: str) -> dict[str, RuleState]:
        out = {rid: RuleState() for (svc, _), rid in self.ids.items() if svc == service}
        for (svc, index, part), signal in self.open.items():
            if svc == service:
                out[self.ids[(svc, index)]].episodes[part] = {  # float(): numpy scalars are not JSON
                    "ts": float(signal.ts), "series": signal.series, "kind": signal.kind, "source": signal.source,
                    "severity": Severity(signal.severity).value}
        for (svc, index), rule in self.thresholds.items():
            if svc == service:
                out[self.ids[(svc, index)]].timers.update(
                    (str(key), (float(st.since), float(st.last_ts))) for key, st in rule.states.items()
                    if not st.firing and st.since is not None and st.last_ts is not None)
        return out

    def _restore(self, service: str, blob: bytes) -> None:
        decoded = rule_state.decode(service, blob)
        if decoded is None:
            self._dirty.add(service)  # overwrite what cannot be read
            return
        _, saved = decoded
        index = {rid: i for (svc, i), rid in self.ids.items() if svc == service}
        for rid, state in saved.items():
            if rid not in index:
                log.warning("saved state of rule %s of %s dropped: the rule is no longer configured as it was "
                            "(removed or changed)", rid, service)
                self._dirty.add(service)
                continue
            for part, e in state.episodes.items():
                self.open[(service, index[rid], part)] = Signal(
                    ts=e["ts"], service=service, series=e["series"], kind=e["kind"],
                    severity=Severity(e["severity"]), score=1.0, reason="restored", source=e["source"])
            threshold = self.thresholds.get((service, index[rid]))
            if threshold is not None:
                self._resume(threshold, state)
        if saved:
            log.info("restored rule state of %s: %d open episodes", service,
                     sum(1 for e in self.open if e[0] == service))

    def _resume(self, rule: Streaming, state: RuleState) -> None:
        """Threshold episodes resume firing (a value still past the limit is the same episode); a
        pending `for:` timer resumes from its start if its series was seen just before the stop."""
        for series in state.episodes:
            _new_state(rule, rule.key(series)).firing = True
        now = self.clock.now()
        for series, (since, last) in state.timers.items():
            if now - last > RESUME_GAP_S:
                log.info("for: timer of %s on %s restarts: no data for %.0f s", rule.config.title(), series,
                         now - last)
                continue
            st = _new_state(rule, rule.key(series))
            st.since, st.last_ts = since, last

    # ------------------------------------------------------------------------------ windows

    def _evaluate(self, rules: list[WindowRule], now: float) -> list[tuple[WindowRule, dict[str, Signal | None]]]:
        """Blocking (store reads): run in a thread. Each rule gives {episode part: signal or None}."""
        out = []
        for rule in rules:
            try:
                out.append((rule, self._EVALUATORS[rule.config.kind](self, rule, now)))
            except Exception:  # one broken rule must not silence the others
                log.exception("rule %s of %s could not be evaluated", rule.config.title(), rule.service)
        return out

    def _settle(self, rule: WindowRule, found: dict[str, Signal | None], batch: Batch) -> None:
        for part, signal in found.items():
            episode = (rule.service, rule.index, part)
            if signal is not None and episode not in self.open:
                signal.source = f"rule:{rule.config.title()}"
                signal.reason = f"{rule.config.title()}: {signal.reason}"
                self._opened(episode, signal, batch)
            elif signal is None and episode in self.open:
                self._cleared(episode, batch.now, "no longer true", batch)
        # series that no longer match (gone from the store) close their episodes too
        for episode in [e for e in self.open if e[:2] == (rule.service, rule.index) and e[2] not in found]:
            self._cleared(episode, batch.now, "no longer true", batch)

    def _opened(self, episode: Episode, signal: Signal, batch: Batch) -> None:
        self.open[episode] = signal
        batch.signals.append(signal)
        batch.alerts.append(_alert(signal))
        self._changed(episode[0])

    def _cleared(self, episode: Episode, ts: float, why: str, batch: Batch) -> None:
        signal = self.open.pop(episode, None)
        if signal is None:
            return
        self._changed(episode[0])
        batch.alerts.append(_alert(signal).resolve(ts, why))

    def _series(self, selector: str, service: str) -> list[Any]:
        return self.sli.series(selector, service)

    def _last_ts(self, key: SeriesKey) -> float | None:
        # store.latest, not list_series' last_ts: the latter can trail the newest samples
        latest = self.store.latest(key)
        return None if latest is None else latest[0]

    def _read(self, key: SeriesKey, start: float, end: float, step: float | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        return self.sli.read(key, start, end, step)

    def _each_live_series(self, rule: WindowRule, now: float, window: float,
                          judge: Callable[[str, np.ndarray, np.ndarray], Signal | None]
                          ) -> dict[str, Signal | None]:
        found: dict[str, Signal | None] = {}
        for info in self._series(rule.config.series, rule.service):
            last = self._last_ts(info.key)
            if last is None or last < now - window:
                continue  # not seen in the window: nothing to judge (absence rules judge that)
            ts, values = self._read(info.key, now - window, now, _step(window))
            found[str(info.key)] = judge(str(info.key), ts, values)
        return found

    def _absence(self, rule: WindowRule, now: float) -> dict[str, Signal | None]:
        c: AbsenceRuleConfig = rule.config
        seen = [self._last_ts(i.key) for i in self._series(c.series, rule.service)]
        last = max((t for t in seen if t is not None), default=None)
        # Silence is counted from vigil's start at the earliest: a series cannot be late before we look.
        # An episode restored from before a restart is still judged on the data alone.
        restored = (rule.service, rule.index, c.series) in self.open
        if not restored and now - max(last if last is not None else -np.inf, self.started) < c.for_:
            return {c.series: None}
        signal = absence(rule.service, c.series, last, now, c.for_, Severity(c.severity))
        if signal is not None and last is None:
            signal.reason = f"never received since vigil started {now - self.started:.0f} s ago " \
                            f"(rule: absent for {c.for_:.0f} s)"
        return {c.series: signal}

    def _rate_of_change(self, rule: WindowRule, now: float) -> dict[str, Signal | None]:
        c: RateOfChangeRuleConfig = rule.config

        def judge(series: str, ts: np.ndarray, values: np.ndarray) -> Signal | None:
            signal = rate_of_change(rule.service, series, ts, values, c.max_per_s, Severity(c.severity))
            if signal is not None:
                rate = signal.evidence["rate_per_s"]
                signal.reason = (f"changing at {rate:.4g}/s ({rate * 60:.4g}/min) over {format_duration(c.window)}"
                                 f", limit {c.max_per_s:.4g}/s")
                signal.evidence.update({"max_per_s": c.max_per_s, "window_s": c.window})
            return signal

        return self._each_live_series(rule, now, c.window, judge)

    def _will_cross(self, rule: WindowRule, now: float) -> dict[str, Signal | None]:
        c: WillCrossRuleConfig = rule.config

        def judge(series: str, ts: np.ndarray, values: np.ndarray) -> Signal | None:
            signal = will_cross(rule.service, series, ts, values, c.limit, c.within, c.min_r2, Severity(c.severity))
            if signal is not None:
                signal.evidence.update({"limit": c.limit, "within_s": c.within, "window_s": c.window})
            return signal

        return self._each_live_series(rule, now, c.window, judge)

    def _leak(self, rule: WindowRule, now: float) -> dict[str, Signal | None]:
        c: LeakRuleConfig = rule.config

        def judge(series: str, ts: np.ndarray, values: np.ndarray) -> Signal | None:
            signal = memory_leak(rule.service, series, ts, values, c.limit, c.min_growth_pct_per_hour, c.min_r2,
                                 min_span_s=0.5 * c.window)
            if signal is not None:
                signal.evidence.update({"limit": c.limit, "window_s": c.window,
                                        "min_growth_pct_per_h": c.min_growth_pct_per_hour})
            return signal

        return self._each_live_series(rule, now, c.window, judge)

    def _drift(self, rule: WindowRule, now: float) -> dict[str, Signal | None]:
        c: DriftRuleConfig = rule.config
        split, start = now - c.current, now - c.current - c.reference
        found: dict[str, Signal | None] = {}
        for info in self._series(c.series, rule.service):
            last = self._last_ts(info.key)
            if last is None or last < split:
                continue
            step = _step(c.reference + c.current)
            _, ref = self._read(info.key, start, split - 1e-3, step)  # the sample at `split` is current's
            _, cur = self._read(info.key, split, now, step)
            signal = drift(rule.service, str(info.key), ref, cur, now, c.ks_p_value, c.psi, c.min_points)
            if signal is not None:
                signal.window_start, signal.window_end = split, now
                signal.evidence.update({"reference": [start, split], "current": [split, now],
                                        "reference_points": int(ref.size), "current_points": int(cur.size)})
            found[str(info.key)] = signal
        return found

    def _slo(self, rule: WindowRule, now: float) -> dict[str, Signal | None]:
        c: SloRuleConfig = rule.config
        longest = max(b.long for b in c.burn_rates)
        ts, good, total = self.sli.good_total(c, rule.service, now - longest, now)
        objective = c.objective / 100.0
        windows = tuple((b.long, b.short, b.factor, Severity(b.severity)) for b in c.burn_rates)
        burns = []
        for b in c.burn_rates:
            long_burn = burn_rate(ts, good, total, objective, now, b.long)
            burns.append({"long": format_duration(b.long), "short": format_duration(b.short), "factor": b.factor,
                          "severity": b.severity, "long_burn": round(long_burn, 3),
                          "short_burn": round(burn_rate(ts, good, total, objective, now, b.short), 3),
                          # the share of the whole period's budget the long window spent
                          "budget_spent_pct": round(100 * long_burn * b.long / c.window, 2)})
        firing = slo_burn(rule.service, c.title(), ts, good, total, objective, now, windows)
        found: dict[str, Signal | None] = {}
        for severity in dict.fromkeys(b.severity for b in c.burn_rates):
            mine = [s for s in firing if s.severity.value == severity]
            signal = max(mine, key=lambda s: s.evidence["long_burn"] / s.evidence["factor"], default=None)
            if signal is not None:
                action = "page" if severity == "critical" else "ticket" if severity == "warning" else "note"
                signal.reason = f"{action}: {signal.reason}"
                signal.evidence.update({"objective_pct": c.objective, "slo_window_s": c.window, "burn_rates": burns,
                                        "action": action})
            found[severity] = signal
        return found

    _EVALUATORS: ClassVar[dict[str, Callable[[RulesStage, WindowRule, float], dict[str, Signal | None]]]] = {
        "absence": _absence, "rate_of_change": _rate_of_change, "will_cross": _will_cross,
        "leak": _leak, "drift": _drift, "slo": _slo,
    }


def _alert(signal: Signal) -> Alert:
    """The episode's alert, named after its rule. Built from the episode's first signal (also when
    restored after a restart), so firing and resolved carry the same labels and fingerprint."""
    return Alert.from_signal(signal, signal.source.removeprefix("rule:"))
