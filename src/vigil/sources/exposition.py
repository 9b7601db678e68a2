"""Prometheus text exposition -> vigil samples, with the derivations a scrape needs.

Naming of what is stored (every series also gets `service`; a target's own `service` label is kept
as `exported_service`, as Prometheus does with honor_labels: false):
- gauge, untyped/unknown, info, stateset: `<sample name>` as is;
- counter: `<sample name>:rate`, per second since the previous scrape (e.g. `http_requests_total:rate`);
  a value below the previous one is a counter reset and counts from zero, as PromQL's rate() does;
  with `rates: false` the raw counter is stored under its own name instead;
- histogram: `<name>{quantile="0.99"}` for each configured quantile, computed as PromQL's
  histogram_quantile() over the bucket increases since the previous scrape (nothing when there were
  no observations in the interval), plus `<name>_count:rate` and `<name>_sum:rate`;
- summary: `<name>{quantile="..."}` as exposed, plus `<name>_count:rate` and `<name>_sum:rate`.
`_created` samples are dropped. The first scrape of a series yields no rate or histogram quantile
(there is no previous value to difference against).
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client.parser import text_fd_to_metric_families

from vigil.config.types import compile_regex
from vigil.model import Sample, SeriesKey

_LabelTuple = tuple[tuple[str, str], ...]
_COUNTERISH = ("_count", "_sum")


@dataclass
class ScrapeState:
    """Previous counter values per series: what rates and histogram increases are taken against.
    Replaced whole on every scrape, so series that disappear do not accumulate."""

    ts: float | None = None
    counters: dict[tuple[str, _LabelTuple], float] = field(default_factory=dict)


class MetricFilter:
    """include/exclude are regexes matched in full against the family name or the sample name
    (so both `http_requests` and `http_requests_total` select a counter)."""

    CACHE = 10_000  # names remembered (a target exposes few distinct names; a hostile one is bounded)

    def __init__(self, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> None:
        self.include = [compile_regex(p) for p in include]
        self.exclude = [compile_regex(p) for p in exclude]
        self._seen: dict[tuple[str, ...], bool] = {}

    def keeps(self, *names: str) -> bool:
        if not self.include and not self.exclude:
            return True
        known = self._seen.get(names)
        if known is None:
            if len(self._seen) >= self.CACHE:
                self._seen.clear()
            known = self._seen[names] = self._judge(names)
        return known

    def _judge(self, names: tuple[str, ...]) -> bool:
        if self.include and not any(p.fullmatch(n) for p in self.include for n in names):
            return False
        return not any(p.fullmatch(n) for p in self.exclude for n in names)


class SampleLimitExceeded(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"more than sample_limit ({limit:,}) samples")
        self.limit = limit


class ScrapeCancelled(Exception):
    """The scrape was abandoned (timed out) while its text was being parsed."""


def _counted_lines(text: str, keep: MetricFilter, limit: int | None,
                   cancelled: threading.Event | None) -> Iterator[str]:
    """The exposition's lines, counting the samples that would be kept (as Prometheus counts
    sample_limit after relabelling) and stopping as soon as there are more than `limit`: a huge
    target is refused after reading `limit` lines, not after parsing all of them."""
    count = 0
    family: tuple[str, ...] = ("",)
    for n, line in enumerate(io.StringIO(text)):
        if cancelled is not None and n % 4096 == 0 and cancelled.is_set():
            raise ScrapeCancelled()
        body = line.lstrip()
        if body.startswith("#"):
            parts = body.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                name = parts[2]
                counter = parts[3].strip() == "counter" and name.endswith("_total")
                family = (name, name[:-6]) if counter else (name,)
        elif body and limit is not None:
            name = body.split("{", 1)[0].split(None, 1)[0]
            names = (*family, name) if name.startswith(family[-1]) else (name,)  # else a new, untyped family
            if not name.endswith("_created") and keep.keeps(*names):
                count += 1
                if count > limit:
                    raise SampleLimitExceeded(limit)
        yield line


def convert(text: str, now: float, service: str, state: ScrapeState, *, rates: bool = True,
            quantiles: Iterable[float] = (0.5, 0.9, 0.99), keep: MetricFilter | None = None,
            sample_limit: int | None = None, cancelled: threading.Event | None = None,
            ) -> tuple[list[Sample], ScrapeState]:
    """Parse one scrape and derive samples; returns them with the state for the next scrape.
    Raises SampleLimitExceeded past `sample_limit` kept samples, ValueError for text that does not
    parse. CPU-heavy for big targets: the scrape collector runs it in a worker thread."""
    keep = keep or MetricFilter()
    quantiles = list(quantiles)
    new = ScrapeState(now)
    dt = (now - state.ts) if state.ts is not None else None
    out: list[Sample] = []

    def counter(name: str, labels: _LabelTuple, value: float) -> None:
        new.counters[(name, labels)] = value
        if not rates:
            out.append(_sample(name, labels, service, now, value))
            return
        prev = state.counters.get((name, labels))
        if prev is None or not dt or dt <= 0:
            return
        increase = value - prev if value >= prev else value  # below the previous value: a reset
        out.append(_sample(f"{name}:rate", labels, service, now, increase / dt))

    lines = _counted_lines(text, keep, sample_limit, cancelled)  # any iterable of lines does
    for family in text_fd_to_metric_families(lines):  # type: ignore[arg-type]
        kind = family.type
        histogram_buckets: dict[_LabelTuple, list[tuple[float, float]]] = {}
        for s in family.samples:
            if not keep.keeps(family.name, s.name) or s.name.endswith("_created"):
                continue
            labels = tuple(sorted(s.labels.items()))
            value = float(s.value)
            if kind == "counter":
                counter(s.name, labels, value)
            elif kind in ("histogram", "gaugehistogram") and s.name.endswith("_bucket"):
                le = s.labels.get("le")
                if le is None:
                    continue
                rest = tuple((k, v) for k, v in labels if k != "le")
                histogram_buckets.setdefault(rest, []).append((float(le), value))
            elif kind in ("histogram", "summary") and s.name.endswith(_COUNTERISH):
                counter(s.name, labels, value)
            elif not math.isnan(value):  # gauges, summary quantiles, untyped: as they are
                out.append(_sample(s.name, labels, service, now, value))
        for labels, buckets in histogram_buckets.items():
            out.extend(_histogram(family.name, labels, buckets, service, now, state, new, quantiles))
    return out, new


def _histogram(name: str, labels: _LabelTuple, buckets: list[tuple[float, float]], service: str,
               now: float, state: ScrapeState, new: ScrapeState, quantiles: list[float]) -> list[Sample]:
    bucket_name = f"{name}_bucket"
    current = sorted(buckets)
    previous: list[tuple[float, float]] = []
    for le, value in current:
        new.counters[(bucket_name, labels + (("le", repr(le)),))] = value
        prev = state.counters.get((bucket_name, labels + (("le", repr(le)),)))
        if prev is not None:
            previous.append((le, prev))
    if state.ts is None or len(previous) != len(current):
        return []
    # Any bucket below its previous value means the target restarted: the increase is the value.
    reset = any(v < p for (_, v), (_, p) in zip(current, previous))
    increases = [(le, v if reset else v - p) for (le, v), (_, p) in zip(current, previous)]
    out = []
    for q in quantiles:
        value = histogram_quantile(q, increases)
        if not math.isnan(value):
            out.append(_sample(name, labels + (("quantile", _format_q(q)),), service, now, value))
    return out


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """PromQL's histogram_quantile over (upper bound, cumulative count) pairs: linear interpolation
    inside the bucket holding the rank; the +Inf bucket yields the highest finite bound."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    buckets = sorted(buckets)
    if len(buckets) < 2 or not math.isinf(buckets[-1][0]):
        return math.nan
    # Coalesce equal bounds and make counts monotonic, as Prometheus does for scrape races.
    fixed: list[list[float]] = []
    for le, count in buckets:
        if fixed and fixed[-1][0] == le:
            fixed[-1][1] += count
        else:
            fixed.append([le, count])
    for i in range(1, len(fixed)):
        fixed[i][1] = max(fixed[i][1], fixed[i - 1][1])
    observations = fixed[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next(i for i, (_, c) in enumerate(fixed) if c >= rank)
    if b == len(fixed) - 1:
        return fixed[-2][0]
    if b == 0 and fixed[0][0] <= 0:
        return fixed[0][0]
    start, end, count = 0.0, fixed[b][0], fixed[b][1]
    if b > 0:
        start, count, rank = fixed[b - 1][0], count - fixed[b - 1][1], rank - fixed[b - 1][1]
    return start + (end - start) * (rank / count)


def _format_q(q: float) -> str:
    return repr(float(q)) if q != int(q) else str(int(q))


def _sample(name: str, labels: _LabelTuple, service: str, ts: float, value: float) -> Sample:
    mapped = {("exported_service" if k == "service" else k): v for k, v in labels}
    mapped["service"] = service
    return Sample(SeriesKey.of(name, mapped), ts, value)
