"""Domain types shared by every stage of the loop. Plain, slotted dataclasses: cheap to build in
hot paths, easy to read in tests."""

from __future__ import annotations

import enum
import functools
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# --------------------------------------------------------------------------- series identity

# Size caps on what one series may be, in the spirit of Prometheus' label_limit,
# label_name_length_limit and label_value_length_limit (these defaults follow Mimir's: 1024-character
# names, 2048-character values, 30 labels). They bound what a series costs to store, cache and list;
# change them here: SeriesKey.of and every parser of series text enforce them.
MAX_NAME_CHARS = 1024  # a metric name or a label name
MAX_LABEL_VALUE_CHARS = 2048
MAX_LABELS = 30
MAX_SERIES_CHARS = 8192  # the name, label names and label values together
# Longer text cannot be a series within the caps (each value character escaped, plus the syntax), so
# it is refused before any scanning.
MAX_SERIES_TEXT_CHARS = 2 * MAX_SERIES_CHARS + 6 * MAX_LABELS + 2

_NAME_FIRST = frozenset(string.ascii_letters + "_:")
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_:")
_LABEL_FIRST = frozenset(string.ascii_letters + "_")
_LABEL_CHARS = frozenset(string.ascii_letters + string.digits + "_")
_SPACE = frozenset(" \t\r\n")
# The text exposition format's escapes inside a label value, and nothing else.
_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n"}


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
    def of(cls, name: str, labels: Mapping[str, str] | None = None) -> SeriesKey:
        """A key from a name and labels, checked against the naming rules and the size caps."""
        _check_name(name)
        items = tuple(sorted((labels or {}).items()))
        if len(items) > MAX_LABELS:
            raise ValueError(f"{name} has {len(items)} labels; at most {MAX_LABELS} are allowed")
        total = len(name)
        for k, v in items:
            if not isinstance(k, str) or not 0 < len(k) <= MAX_NAME_CHARS or k[0] not in _LABEL_FIRST \
                    or not _LABEL_CHARS.issuperset(k):
                raise ValueError(f"invalid label name {_show(k)} on {name}: use at most {MAX_NAME_CHARS} "
                                 "letters, digits and '_', not starting with a digit")
            if not isinstance(v, str):
                # ValueError, not TypeError: every caller reports bad input through ValueError
                raise ValueError(f"label {k!r} on {name} must be a string, got {type(v).__name__}")  # noqa: TRY004
            _check_value(name, k, v)
            total += len(k) + len(v)
        if total > MAX_SERIES_CHARS:
            raise ValueError(f"series {name} is {total:,} characters long (name, label names and values); "
                             f"at most {MAX_SERIES_CHARS:,} are allowed")
        return cls(name, items)

    @classmethod
    def parse(cls, text: str) -> SeriesKey:
        """Parse `name{a="x",b="y"}` (Prometheus notation) in one linear pass. Short texts are cached:
        pushed batches name the same series over and over, and parsing costs more than the write."""
        if isinstance(text, str) and len(text) <= _CACHED_TEXT_CHARS:
            return _parse_cached(text)
        return cls._parse_uncached(text)

    @classmethod
    def _parse_uncached(cls, text: str) -> SeriesKey:
        if not isinstance(text, str):
            raise ValueError(f"a series must be text; found {type(text).__name__}")  # noqa: TRY004
        if len(text) > MAX_SERIES_TEXT_CHARS:  # refused before any scanning
            raise ValueError(f"invalid series {_show(text)}: {len(text):,} characters long; a series is at "
                             f"most {MAX_SERIES_TEXT_CHARS:,} characters")
        try:
            name, labels, end = scan_series(text)
            end = _skip_space(text, end)
            if end != len(text):
                raise ValueError(f"unexpected {_show(text[end:])} at character {end}")
        except ValueError as exc:
            raise ValueError(f'invalid series {_show(text)}: {exc}; expected name{{label="value",...}}') \
                from None
        return cls.of(name, labels)

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)

    def __str__(self) -> str:
        if not self.labels:
            return self.name
        inner = ",".join(f'{k}="{_escape(v)}"' for k, v in self.labels)
        return f"{self.name}{{{inner}}}"


_CACHED_TEXT_CHARS = 256  # longer texts are parsed each time: the cache's memory stays bounded


@functools.lru_cache(maxsize=32_768)
def _parse_cached(text: str) -> SeriesKey:
    return SeriesKey._parse_uncached(text)


def scan_series(text: str, pos: int = 0) -> tuple[str, dict[str, str], int]:
    """Scan `name{label="value",...}` starting at `pos`: one forward pass, no regular expression, each
    character looked at a bounded number of times. Returns the name, the labels and the position just
    after the series. Raises ValueError naming the position of the first thing that is wrong."""
    n = len(text)
    i = _skip_space(text, pos)
    j = _scan_word(text, i, _NAME_CHARS, "metric name")
    if j == i:
        raise ValueError(f"expected a metric name at character {i}")
    name = text[i:j]
    i = _skip_space(text, j)
    labels: dict[str, str] = {}
    if i >= n or text[i] != "{":
        return name, labels, j
    i = _skip_space(text, i + 1)
    while True:
        if i < n and text[i] == "}":
            return name, labels, i + 1
        j = _scan_word(text, i, _LABEL_CHARS, "label name")
        if j == i:
            raise ValueError(f"expected a label name or '}}' at character {i}")
        label = text[i:j]
        i = _skip_space(text, j)
        if i >= n or text[i] != "=":
            raise ValueError(f"expected '=' after label {label!r} at character {i}")
        i = _skip_space(text, i + 1)
        if i >= n or text[i] != '"':
            raise ValueError(f"expected '\"' to open the value of label {label!r} at character {i}")
        value, i = _scan_quoted(text, i + 1)
        if label in labels:
            raise ValueError(f"label {label!r} is given twice")
        if len(labels) == MAX_LABELS:
            raise ValueError(f"more than {MAX_LABELS} labels")
        labels[label] = value
        i = _skip_space(text, i)
        if i < n and text[i] == ",":
            i = _skip_space(text, i + 1)
        elif i >= n or text[i] != "}":
            raise ValueError(f"expected ',' or '}}' at character {i}")


def _skip_space(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _SPACE:
        i += 1
    return i


def _scan_word(text: str, i: int, chars: frozenset[str], what: str) -> int:
    n, stop = len(text), i + MAX_NAME_CHARS
    while i < n and text[i] in chars:
        i += 1
        if i > stop:  # stop at the cap rather than walk a hostile run to its end
            raise ValueError(f"{what} longer than {MAX_NAME_CHARS} characters")
    return i


def _scan_quoted(text: str, i: int) -> tuple[str, int]:
    """The label value from just after its opening quote; returns it unescaped and the position after
    the closing quote. Each search starts where the previous one ended: linear however many escapes."""
    start, parts = i, []
    quote = text.find('"', i)
    while True:
        if quote < 0:
            raise ValueError(f"label value opened at character {start - 1} is not closed")
        slash = text.find("\\", i, quote)
        if slash < 0:
            parts.append(text[i:quote])
            return "".join(parts), quote + 1
        escaped = text[slash + 1]
        plain = _UNESCAPE.get(escaped)
        if plain is None:
            raise ValueError(f"invalid escape {_show(chr(92) + escaped)} at character {slash}: a label value "
                             'may use \\\\, \\" and \\n only')
        parts.append(text[i:slash])
        parts.append(plain)
        i = slash + 2
        if i > quote:  # that quote was escaped: find the next one
            quote = text.find('"', i)


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS or name[0] not in _NAME_FIRST \
            or not _NAME_CHARS.issuperset(name):
        raise ValueError(f"invalid metric name {_show(name)}: use at most {MAX_NAME_CHARS} letters, digits, "
                         "'_' and ':', not starting with a digit")


def _check_value(name: str, label: str, value: str) -> None:
    if len(value) > MAX_LABEL_VALUE_CHARS:
        raise ValueError(f"label {label!r} on {name} is {len(value):,} characters long; at most "
                         f"{MAX_LABEL_VALUE_CHARS:,} are allowed")
    if not value.isascii():
        try:  # lone surrogates (from a JSON escape) cannot be stored as UTF-8
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"label {label!r} on {name} is not valid Unicode text") from None
    if "\0" in value:  # PostgreSQL text cannot hold it: refuse it on every store alike
        raise ValueError(f"label {label!r} on {name} contains a NUL character")


def _show(value: Any, limit: int = 60) -> str:
    """A short repr for messages: never echo a 100,000-character input back."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + f"... ({len(value):,} characters)"
    return repr(value)


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
    HIGH = "high"
    CRITICAL = "critical"


SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}
# The words other tools put in a `severity` label (PagerDuty, Opsgenie, syslog, P1-P5), read as ours.
_SEVERITY_WORDS = {
    "critical": Severity.CRITICAL, "crit": Severity.CRITICAL, "emergency": Severity.CRITICAL,
    "fatal": Severity.CRITICAL, "page": Severity.CRITICAL, "p1": Severity.CRITICAL, "sev1": Severity.CRITICAL,
    "high": Severity.HIGH, "error": Severity.HIGH, "err": Severity.HIGH, "major": Severity.HIGH,
    "p2": Severity.HIGH, "sev2": Severity.HIGH,
    "warning": Severity.WARNING, "warn": Severity.WARNING, "medium": Severity.WARNING, "minor": Severity.WARNING,
    "p3": Severity.WARNING, "sev3": Severity.WARNING,
    "info": Severity.INFO, "informational": Severity.INFO, "low": Severity.INFO, "notice": Severity.INFO,
    "none": Severity.INFO, "p4": Severity.INFO, "p5": Severity.INFO, "sev4": Severity.INFO,
}


def severity_of(word: str | None) -> Severity:
    """A severity word from any source as one of vigil's four; an unknown word is a warning."""
    return _SEVERITY_WORDS.get((word or "warning").strip().lower(), Severity.WARNING)


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
        return severity_of(self.labels.get("severity"))  # an outside alert may carry any severity word

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
    report: dict[str, str] | None = None  # kind report: its title, text (Markdown) and html, as rendered

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
