"""What every source shares: the `Collector` protocol, what a collection returns, and the samples a
probe result becomes (so probes show up as series like any metric)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from vigil.clock import Clock
from vigil.model import ProbeResult, Sample, SeriesKey

PROBE_KINDS = frozenset({"http", "tcp", "command"})
METRIC_KINDS = frozenset({"scrape", "promql"})
DETAIL_MAX = 240  # a detail is one line in an event log, not a dump of the body


@dataclass(slots=True)
class Collection:
    """What one run of a collector produced. `probe` is set by probes; `error` by metric sources
    that could not collect (the scheduler also sets it on a timeout or an unexpected exception)."""

    service: str
    source: str
    ts: float
    samples: list[Sample] = field(default_factory=list)
    probe: ProbeResult | None = None
    error: str | None = None


@runtime_checkable
class Collector(Protocol):
    """One probe or metric source of one service. `collect` must not raise for a failing target:
    a failure is a result (probes) or `Collection.error` (metric sources)."""

    service: str
    name: str
    kind: str
    interval: float
    timeout: float

    async def collect(self, now: float) -> Collection: ...


def short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= DETAIL_MAX else text[: DETAIL_MAX - 1] + "…"


_PROBE_KEYS: dict[tuple[str, str, str], SeriesKey] = {}  # one entry per probe and value: bounded


def _probe_key(name: str, service: str, probe: str) -> SeriesKey:
    # Validating and sorting labels on every run of every probe is measurable at 100 probes/s.
    key = _PROBE_KEYS.get((name, service, probe))
    if key is None:
        if len(_PROBE_KEYS) > 100_000:
            _PROBE_KEYS.clear()
        key = _PROBE_KEYS[(name, service, probe)] = SeriesKey.of(name, {"service": service, "probe": probe})
    return key


def probe_samples(result: ProbeResult) -> list[Sample]:
    """probe_success, probe_duration_seconds and each measured value (probe_<value>, e.g.
    probe_tls_days_left, probe_status_code), labelled with service and probe."""
    svc, probe, ts = result.service, result.probe, result.ts
    out = [
        Sample(_probe_key("probe_success", svc, probe), ts, 1.0 if result.ok else 0.0),
        Sample(_probe_key("probe_duration_seconds", svc, probe), ts, result.latency_s),
    ]
    for name, value in sorted(result.values.items()):
        out.append(Sample(_probe_key(f"probe_{name}", svc, probe), ts, float(value)))
    return out


def failed_collection(collector: Collector, now: float, detail: str, latency_s: float) -> Collection:
    """The result of a run that did not finish (timed out, or the collector broke its promise and
    raised): a failing probe result for probes, an error for metric sources."""
    detail = short(detail)
    if collector.kind in PROBE_KINDS:
        probe = ProbeResult(collector.service, collector.name, now, False, latency_s, detail)
        return Collection(collector.service, collector.name, now, probe=probe, error=None)
    return Collection(collector.service, collector.name, now, error=detail)


class FakeCollector:
    """A collector whose results a test scripts: each run pops the next outcome (True/False for a
    probe result, a float to sleep that many clock seconds first, or an exception to raise)."""

    def __init__(self, service: str, name: str, interval: float = 10.0, timeout: float = 5.0,
                 kind: str = "http", outcomes: list[object] | None = None, clock: Clock | None = None) -> None:
        self.service, self.name, self.kind = service, name, kind
        self.interval, self.timeout = interval, timeout
        self.outcomes = list(outcomes or [])
        self.clock = clock
        self.starts: list[float] = []

    async def collect(self, now: float) -> Collection:
        self.starts.append(now)
        outcome = self.outcomes.pop(0) if self.outcomes else True
        if isinstance(outcome, BaseException):
            raise outcome
        if isinstance(outcome, (int, float)) and not isinstance(outcome, bool):
            assert self.clock is not None, "a FakeCollector that sleeps needs a clock"
            await self.clock.sleep(float(outcome))
            outcome = True
        ok = bool(outcome)
        result = ProbeResult(self.service, self.name, now, ok, 0.001, "ok" if ok else "scripted failure")
        return Collection(self.service, self.name, now, probe=result)
