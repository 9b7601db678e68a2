"""Scrape: fetch a Prometheus `/metrics` endpoint and store what it says (see exposition.py for how
counters, histograms and summaries become series)."""

from __future__ import annotations

import time

import aiohttp

from vigil.config.sources import ScrapeSource
from vigil.model import Sample, SeriesKey
from vigil.sources.base import Collection, short
from vigil.sources.exposition import MetricFilter, ScrapeState, convert
from vigil.sources.http_client import HttpPool, describe_error, read_capped, redact_url, scrub

ACCEPT = "text/plain;version=0.0.4;q=0.9,*/*;q=0.1"  # the text format prometheus-client parses
BODY_LIMIT = 32 << 20


class ScrapeCollector:
    """Besides the target's series, every scrape stores `up` (1 when the scrape worked) and
    `scrape_duration_seconds`, labelled with service and instance (the URL), as Prometheus does."""

    kind = "scrape"

    def __init__(self, service: str, name: str, spec: ScrapeSource, http: HttpPool | None = None) -> None:
        self.service, self.name, self.spec = service, name, spec
        self.interval, self.timeout = spec.interval, spec.timeout
        self.http = http or HttpPool()
        self._headers = {"Accept": ACCEPT, **{k: v.get_secret_value() for k, v in spec.headers.items()}}
        self._timeout = aiohttp.ClientTimeout(total=spec.timeout)
        self._filter = MetricFilter(spec.include, spec.exclude)
        self._state = ScrapeState()
        self._shown = redact_url(spec.url)  # what errors and labels say: never a password
        labels = {"service": service, "instance": self._shown}
        self._up_key = SeriesKey.of("up", labels)
        self._duration_key = SeriesKey.of("scrape_duration_seconds", labels)

    async def collect(self, now: float) -> Collection:
        started = time.perf_counter()
        error: str | None = None
        samples: list[Sample] = []
        try:
            text = await self._fetch()
            samples, self._state = convert(text, now, self.service, self._state, rates=self.spec.rates,
                                           quantiles=self.spec.quantiles, keep=self._filter)
        except _HttpStatus as exc:
            error = str(exc)
        except ValueError as exc:  # the exposition did not parse
            error = scrub(f"cannot parse metrics from {self._shown}: {exc}", self.spec.url)
        except Exception as exc:  # a source never raises
            error = describe_error(exc, self.spec.url, self.spec.timeout)
        duration = time.perf_counter() - started
        samples.append(Sample(self._up_key, now, 0.0 if error else 1.0))
        samples.append(Sample(self._duration_key, now, duration))
        return Collection(self.service, self.name, now, samples=samples,
                          error=short(error) if error else None)

    async def _fetch(self) -> str:
        session = self.http.session()
        async with session.get(self.spec.url, headers=self._headers, timeout=self._timeout,
                               allow_redirects=True) as resp:
            body = await read_capped(resp, BODY_LIMIT)
            if resp.status != 200:
                raise _HttpStatus(f"HTTP {resp.status} from {self._shown}")
            return body.decode(resp.charset or "utf-8", "replace")

    async def aclose(self) -> None:
        await self.http.aclose()


class _HttpStatus(Exception):
    pass
