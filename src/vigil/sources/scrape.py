"""Scrape: fetch a Prometheus `/metrics` endpoint and store what it says (see exposition.py for how
counters, histograms and summaries become series).

A scrape is bounded, as in Prometheus: a body over `body_size_limit` or more than `sample_limit`
kept samples fails the whole scrape (`up` = 0, the error names the limit, nothing from it is stored),
so a target that grows never gets silently cut. Decoding and parsing run in a worker thread: a big
target must not hold the event loop that runs every other probe and the API."""

from __future__ import annotations

import asyncio
import threading
import time

import aiohttp

from vigil.config.sources import ScrapeSource
from vigil.config.types import format_size
from vigil.model import Sample, SeriesKey
from vigil.sources.base import Collection, short
from vigil.sources.exposition import MetricFilter, SampleLimitExceeded, ScrapeState, convert
from vigil.sources.http_client import HttpPool, describe_error, read_capped, redact_url, scrub

ACCEPT = "text/plain;version=0.0.4;q=0.9,*/*;q=0.1"  # the text format prometheus-client parses


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
        cancelled = threading.Event()  # tells an abandoned parse in its thread to stop
        body: bytes | None = None
        try:
            async with asyncio.timeout(self.spec.timeout):  # fetching and parsing together
                body, charset = await self._fetch()
                samples, self._state = await asyncio.to_thread(self._parse, body, charset, now, cancelled)
        except TimeoutError as exc:
            error = (describe_error(exc, self.spec.url, self.spec.timeout) if body is None else
                     f"parsing the {len(body):,}-byte body of {self._shown} took longer than the "
                     f"{self.spec.timeout:g}s timeout; raise timeout, or lower sample_limit to refuse it "
                     "sooner")
        except _ScrapeFailed as exc:
            error = str(exc)
        except SampleLimitExceeded as exc:
            error = (f"scrape of {self._shown} stopped: {exc}; raise sample_limit for this source "
                     "or narrow include/exclude")
        except ValueError as exc:  # the exposition did not parse
            error = scrub(f"cannot parse metrics from {self._shown}: {exc or 'invalid line'}", self.spec.url)
        except Exception as exc:  # a source never raises
            error = describe_error(exc, self.spec.url, self.spec.timeout)
        finally:
            cancelled.set()
        if error:
            samples = []  # a failed scrape stores nothing but its up = 0
        duration = time.perf_counter() - started
        samples.append(Sample(self._up_key, now, 0.0 if error else 1.0))
        samples.append(Sample(self._duration_key, now, duration))
        return Collection(self.service, self.name, now, samples=samples,
                          error=short(error) if error else None)

    def _parse(self, body: bytes, charset: str, now: float,
               cancelled: threading.Event) -> tuple[list[Sample], ScrapeState]:
        text = body.decode(charset, "replace")
        return convert(text, now, self.service, self._state, rates=self.spec.rates,
                       quantiles=self.spec.quantiles, keep=self._filter,
                       sample_limit=self.spec.sample_limit, cancelled=cancelled)

    async def _fetch(self) -> tuple[bytes, str]:
        limit = self.spec.body_size_limit
        session = self.http.session()
        async with session.get(self.spec.url, headers=self._headers, timeout=self._timeout,
                               allow_redirects=True) as resp:
            if resp.status != 200:
                raise _ScrapeFailed(f"HTTP {resp.status} from {self._shown}")
            if resp.content_length is not None and resp.content_length > limit:
                raise _ScrapeFailed(self._too_large(f"{resp.content_length:,} bytes announced"))
            body = await read_capped(resp, limit + 1)
            if len(body) > limit:
                raise _ScrapeFailed(self._too_large("more was still coming"))
            return body, resp.charset or "utf-8"

    def _too_large(self, what: str) -> str:
        return (f"scrape of {self._shown} stopped: the body is larger than body_size_limit "
                f"({format_size(self.spec.body_size_limit)}; {what}); raise body_size_limit for this "
                "source or have the target expose fewer series")

    async def aclose(self) -> None:
        await self.http.aclose()


class _ScrapeFailed(Exception):
    pass
