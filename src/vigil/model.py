"""Domain types shared by every stage of the loop. Plain, slotted dataclasses: cheap to build in
hot paths, easy to read in tests."""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

# --------------------------------------------------------------------------- series identity

_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_SELECTOR_RE = re.compile(r'^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*(?:\{(.*)\})?\s*$', re.S)
_PAIR_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """A time series is a metric name plus labels, as in Prometheus. Labels are kept sorted so equal
    series compare and hash equal whatever order the labels arrived in."""

    name: str
    labels: tuple[tuple[str, str], ...] = ()
    # Keys are hashed on every write and lookup; computing the hash once pays for itself many times.
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.name, self.labels)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type, tuple[str, tuple[tuple[str, str], ...]]]:
        # Rebuild through __init__: string hashes differ between processes, so never copy _hash.
        return (SeriesKey, (self.name, self.labels))

    @classmethod
    def of(cls, name: str, labels: Mapping[str, str] | None = None) -> "SeriesKey":
        if not _NAME_RE.match(name):
            raise ValueError(f"invalid metric name {name!r}: use letters, digits, '_' and ':'")
        items = tuple(sorted((labels or {}).items()))
        for k, v in items:
            if not _LABEL_RE.match(k):
                raise ValueError(f"invalid label name {k!r} on {name}: use letters, digits and '_'")
            if not isinstance(v, str):
                raise ValueError(f"label {k!r} on {name} must be a string, got {type(v).__name__}")
        return cls(name, items)

    @classmethod
    def parse(cls, text: str) -> "SeriesKey":
        """Parse `name{a="x",b="y"}` (Prometheus notation). Cached: pushed batches name the same
        series over and over, and parsing costs far more than the write."""
        return _parse_series(text)

    @classmethod
    def _parse_uncached(cls, text: str) -> "SeriesKey":
        m = _SELECTOR_RE.match(text)
        if not m or not m.group(1):
            raise ValueError(f'invalid series {text!r}: expected name{{label="value",...}}')
        labels: dict[str, str] = {}
        body = (m.group(2) or "").strip()
        pos = 0
        while pos < len(body):
            pm = _PAIR_RE.match(body, pos)
            if not pm:
                raise ValueError(f"invalid series {text!r}: cannot parse labels at {body[pos:]!r}")
            labels[pm.group(1)] = bytes(pm.group(2), "utf-8").decode("unicode_escape")
            pos = pm.end()
        return cls.of(m.group(1), labels)

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)

    def __str__(self) -> str:
        if not self.labels:
            return self.name
        inner = ",".join(f'{k}="{_escape(v)}"' for k, v in self.labels)
        return f"{self.name}{{{inner}}}"


@functools.lru_cache(maxsize=100_000)
def _parse_series(text: str) -> SeriesKey:
    return SeriesKey._parse_uncached(text)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass(slots=True)
class Sample:
    key: SeriesKey
    ts: float  # seconds since the epoch
    value: float


# --------------------------------------------------------------------------- health

class Health(str, enum.Enum):
    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@dataclass(slots=True)
class ProbeResult:
    service: str
    probe: str
    ts: float
    ok: bool
    latency_s: float
    detail: str = ""
    # Extra numbers a probe measured (e.g. tls_days_left, status_code); also stored as samples.
    values: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- judgement

@dataclass(slots=True)
class Score:
    """A detector's judgement of one point: 0 normal .. 1 certainly anomalous, with why."""

    value: float
    reason: str = ""


class Severity(str, enum.Enum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(slots=True)
class Signal:
    """Something worth attention, produced by a detector, a rule, or a forecast; incidents are made
    of signals."""

    ts: float
    service: str
    series: str
    kind: str  # anomaly | threshold | absence | rate_of_change | trend | slo_burn | leak | drift | capacity | probe
    severity: Severity
    score: float
    reason: str
    source: str  # the detector or rule that produced it
    window_start: float | None = None
    window_end: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


class AlertStatus(str, enum.Enum):
    FIRING = "firing"
    RESOLVED = "resolved"


_FNV_OFFSET, _FNV_PRIME, _SEP = 14695981039346656037, 1099511628211, 0xFF


def fingerprint(labels: Mapping[str, str]) -> str:
    """The alert's identity, computed from its labels exactly as Prometheus and Alertmanager do
    (FNV-1a 64 over each sorted name and value, each followed by the byte 0xff), as 16 hex digits."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for b in part.encode("utf-8"):
                h = ((h ^ b) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
            h = ((h ^ _SEP) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


@dataclass(slots=True)
class Alert:
    """Trouble with a lifecycle: it fires once and resolves once. Detection, rules, health, forecasts
    and collection failures all produce alerts, so every source of trouble says when it is over.

    Its identity is the fingerprint of its labels (as Alertmanager computes it): a producer resolves
    an alert by sending the same labels with status resolved. vigil's own alerts always carry
    `alertname`, `service` and `severity` labels (an outside alert keeps the labels it came with: no
    `severity` reads as warning); annotations hold the human text (`summary`, `resolution` once over)."""

    labels: dict[str, str]
    status: AlertStatus
    starts_at: float
    ends_at: float | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    source: str = ""  # what produced it: detector:<kind>, rule:<title>, health, collect, forecast, ingest:<api>
    evidence: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    generator_url: str = ""  # where it came from (Prometheus' expression browser link, for outside alerts)
    # An outside alert's ends_at set by vigil (resolve_timeout, because the sender gave none): it resolves
    # then unless the sender repeats it, and a sender's own end time wins over it (Alertmanager's rule).
    timeout: bool = False

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = fingerprint(self.labels)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def service(self) -> str:
        return self.labels.get("service", "")

    @property
    def severity(self) -> Severity:
        try:
            return Severity(self.labels.get("severity", "warning"))
        except ValueError:  # an outside alert may carry any severity word
            return Severity.WARNING

    @property
    def firing(self) -> bool:
        return self.status is AlertStatus.FIRING

    @property
    def summary(self) -> str:
        return self.annotations.get("summary", "")

    def resolve(self, at: float, why: str) -> "Alert":
        """This alert, over: same labels (so the same fingerprint), status resolved, with why."""
        return Alert(dict(self.labels), AlertStatus.RESOLVED, self.starts_at, at,
                     {**self.annotations, "resolution": why}, self.source, dict(self.evidence),
                     self.fingerprint, self.generator_url)

    @classmethod
    def from_signal(cls, signal: "Signal", alertname: str, **labels: str) -> "Alert":
        """A firing alert for a signal: its service, severity and series are labels, its reason the
        summary, its evidence kept."""
        return cls({"alertname": alertname, "service": signal.service, "severity": Severity(signal.severity).value,
                    "series": signal.series, **labels},
                   AlertStatus.FIRING, float(signal.ts), None, {"summary": signal.reason}, signal.source,
                   {"kind": signal.kind, "score": signal.score, **signal.evidence})


@dataclass(slots=True)
class Notice:
    """One notification for one receiver: a group of alerts (as Alertmanager's dispatcher flushes
    them), and the incident they belong to when there is one. `key` is its idempotency key: the same
    notice, sent again after a crash, carries the same key, so receivers (and the outbox) can dedupe."""

    key: str
    receiver: str
    group_key: str  # the aggregation group, as Alertmanager writes it: {}/{route matchers}:{group labels}
    status: AlertStatus  # firing while any alert in it fires, else resolved
    alerts: list[Alert]
    created_at: float
    group_labels: dict[str, str] = field(default_factory=dict)
    truncated_alerts: int = 0
    incident: dict[str, Any] | None = None  # id, title, summary, root cause, links (filled by incidents)
    kind: str = "alerts"  # alerts | escalation | reminder | report
    # Which of the receiver's integrations ("webhook/0", "slack/1": kind and index, in the order of
    # Receiver.integrations()) this notice is for; empty for all. Alertmanager decides per integration
    # (send_resolved differs), so one flush may tell some integrations of a receiver and not others.
    integrations: tuple[str, ...] = ()

    @property
    def common_labels(self) -> dict[str, str]:
        return _common([a.labels for a in self.alerts])

    @property
    def common_annotations(self) -> dict[str, str]:
        return _common([a.annotations for a in self.alerts])


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first, rest = maps[0], maps[1:]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in rest)}


@dataclass(slots=True)
class Delivery:
    """How sending one notice went. A notifier says whether a failure is worth retrying; retries,
    backoff, circuit breaking and dead letters happen in one place (the outbox), never in a notifier."""

    ok: bool
    retryable: bool = False
    detail: str = ""  # never holds a secret or a URL's credentials
    status_code: int | None = None


@dataclass(slots=True)
class Forecast:
    """Predictions with uncertainty: mean plus lo/hi per interval level (e.g. {80: (lo, hi)})."""

    ts: np.ndarray
    mean: np.ndarray
    intervals: dict[int, tuple[np.ndarray, np.ndarray]]
    model: str
    fallback_reason: str | None = None


@dataclass(slots=True)
class Decision:
    """A decision the engine took, with the inputs it looked at and the rule that produced it."""

    ts: float
    kind: str  # e.g. scale, remediate, notify, incident
    subject: str
    rule: str
    inputs: dict[str, Any]
    result: dict[str, Any]


@dataclass(slots=True)
class Event:
    """One line of the event log: something that happened, for the timeline."""

    ts: float
    kind: str
    service: str | None
    message: str
    data: dict[str, Any] = field(default_factory=dict)
