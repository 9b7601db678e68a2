"""PromQL: instant or range queries against a Prometheus-compatible HTTP API, as a metric source.

Results are stored under the source's `name`, with the result's labels (minus `__name__`) plus
`service`. A range query returns its whole window on every run; only points newer than the last
one delivered per series are passed on, so the first run back-fills and later runs add."""

from __future__ import annotations

import math
from typing import Any

import aiohttp
import orjson

from vigil.config.sources import PromqlSource
from vigil.model import Sample, SeriesKey
from vigil.sources.base import Collection, short
from vigil.sources.http_client import HttpPool, describe_error, redact_url, scrub


class PromqlError(Exception):
    """Prometheus answered with an error (bad query, timeout, unavailable)."""


class PromqlCollector:
    kind = "promql"

    def __init__(self, service: str, name: str, spec: PromqlSource, http: HttpPool | None = None) -> None:
        self.service, self.name, self.spec = service, name, spec
        self.interval, self.timeout = spec.interval, spec.timeout
        self.http = http or HttpPool()
        self._headers = {k: v.get_secret_value() for k, v in spec.headers.items()}
        self._timeout = aiohttp.ClientTimeout(total=spec.timeout)
        self._base = spec.url.rstrip("/")
        self._shown = redact_url(self._base)  # what errors say: never a password from the URL
        self._last_ts: dict[SeriesKey, float] = {}

    async def collect(self, now: float) -> Collection:
        try:
            samples = await self.query(now)
        except PromqlError as exc:
            return Collection(self.service, self.name, now, error=short(scrub(str(exc), self._base)))
        except Exception as exc:  # a source never raises
            url = f"{self._base}/api/v1/query"
            return Collection(self.service, self.name, now,
                              error=short(describe_error(exc, url, self.spec.timeout)))
        return Collection(self.service, self.name, now, samples=samples)

    async def query(self, now: float) -> list[Sample]:
        spec = self.spec
        # Prometheus also stops evaluating at its own timeout: ask for a little less than ours.
        params = {"query": spec.query, "timeout": f"{max(100, int(spec.timeout * 900))}ms"}
        if spec.range is None:
            path = "/api/v1/query"
            params["time"] = f"{now:.3f}"
        else:
            path = "/api/v1/query_range"
            params.update(start=f"{now - spec.range:.3f}", end=f"{now:.3f}", step=f"{spec.step:g}")
        session = self.http.session()
        async with session.post(self._base + path, data=params, headers=self._headers,
                                timeout=self._timeout) as resp:
            body = await resp.read()
            status = resp.status
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise PromqlError(f"HTTP {status} from {self._shown}{path}: not a Prometheus API answer") from None
        if not isinstance(payload, dict) or payload.get("status") != "success":
            error_type = payload.get("errorType", "error") if isinstance(payload, dict) else "error"
            error = payload.get("error", "") if isinstance(payload, dict) else ""
            raise PromqlError(f"Prometheus {error_type} (HTTP {status}) for {spec.query!r}: {error}")
        return self._samples(payload.get("data") or {})

    def _samples(self, data: dict[str, Any]) -> list[Sample]:
        result_type, result = data.get("resultType"), data.get("result")
        if result_type == "scalar":
            result = [{"metric": {}, "value": result}]
        elif result_type == "string" or result is None:
            raise PromqlError(f"query {self.spec.query!r} returned a {result_type}, not numbers")
        out: list[Sample] = []
        for series in result:
            key = self._key(series.get("metric") or {})
            points = series.get("values") or ([series["value"]] if "value" in series else [])
            last = self._last_ts.get(key, -math.inf)
            for ts, text in points:
                ts, value = float(ts), float(text)
                if ts > last and not math.isnan(value):
                    out.append(Sample(key, ts, value))
                    last = ts
            if last > -math.inf:
                self._last_ts[key] = last
        return out

    def _key(self, metric: dict[str, str]) -> SeriesKey:
        labels = {("exported_service" if k == "service" else k): v
                  for k, v in metric.items() if k != "__name__"}
        labels["service"] = self.service
        return SeriesKey.of(self.spec.name, labels)

    async def aclose(self) -> None:
        await self.http.aclose()
