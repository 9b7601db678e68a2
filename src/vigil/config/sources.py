"""Config schema of what vigil watches: probes (http, tcp, command) and metric sources
(scrape, promql). Each is chosen by its `kind`."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from vigil.config.types import ByteSize, Duration, Regexes, Secret, Strict


def _check_timing(interval: float, timeout: float) -> None:
    if interval <= 0:
        raise ValueError("interval must be more than 0s")
    if timeout <= 0:
        raise ValueError("timeout must be more than 0s")
    if timeout > interval:
        raise ValueError(f"timeout ({timeout:g}s) must not exceed interval ({interval:g}s)")


class ProbeBase(Strict):
    name: str | None = None  # defaults to the kind, made unique per service
    interval: Duration = 10.0
    timeout: Duration = 5.0
    failure_threshold: int = Field(3, ge=1, description="consecutive failures before unhealthy")
    success_threshold: int = Field(2, ge=1, description="consecutive successes before healthy again")

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> "ProbeBase":
        _check_timing(self.interval, self.timeout)
        return self


class JsonFieldCheck(Strict):
    path: str = Field(description="dotted path into the JSON body, e.g. status or checks.db.ok")
    equals: str | int | float | bool | None = None


class HttpProbe(ProbeBase):
    kind: Literal["http"]
    url: str
    method: Literal["GET", "HEAD", "POST"] = "GET"
    headers: dict[str, Secret] = Field(default_factory=dict)
    expect_status: list[int] = Field(default_factory=lambda: [200])
    body_contains: str | None = None
    json_field: JsonFieldCheck | None = None
    verify_tls: bool = True
    tls_min_days: int | None = Field(None, ge=0, description="fail when the certificate expires sooner")

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://; found {v!r}")
        return v


class TcpProbe(ProbeBase):
    kind: Literal["tcp"]
    host: str
    port: int = Field(ge=1, le=65535)


class CommandProbe(ProbeBase):
    kind: Literal["command"]
    command: list[str] = Field(min_length=1, description="argv; not run through a shell")
    expect_exit: int = 0


Probe = Annotated[HttpProbe | TcpProbe | CommandProbe, Field(discriminator="kind")]


class ScrapeSource(Strict):
    kind: Literal["scrape"]
    url: str
    interval: Duration = 15.0
    timeout: Duration = 5.0
    include: Regexes = Field(default_factory=list, description="regexes of metric names to keep")
    exclude: Regexes = Field(default_factory=list)
    quantiles: list[float] = Field(default_factory=lambda: [0.5, 0.9, 0.99],
                                   description="histogram quantiles to compute")
    rates: bool = Field(True, description="turn counters into per-second rates")
    headers: dict[str, Secret] = Field(default_factory=dict)
    body_size_limit: ByteSize = Field(32 << 20, gt=0,
                                      description="a larger (uncompressed) body fails the scrape")
    sample_limit: int = Field(100_000, gt=0,
                              description="more samples kept (after include/exclude) fail the scrape")

    @model_validator(mode="after")
    def _timing(self) -> "ScrapeSource":
        _check_timing(self.interval, self.timeout)
        return self

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, v: list[float]) -> list[float]:
        for q in v:
            if not 0 < q < 1:
                raise ValueError(f"quantiles must be between 0 and 1 exclusive; found {q}")
        return v


class PromqlSource(Strict):
    kind: Literal["promql"]
    url: str = Field(description="base URL of a Prometheus-compatible server, e.g. http://127.0.0.1:9090")
    query: str
    name: str = Field(description="metric name to store the result under")
    interval: Duration = 30.0
    timeout: Duration = 10.0
    range: Duration | None = Field(None, description="if set, run a range query over this window")
    step: Duration = 15.0
    headers: dict[str, Secret] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _metric_name(cls, v: str) -> str:
        if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", v):
            raise ValueError(f"name {v!r} must be a metric name: letters, digits, '_' and ':'")
        return v

    @model_validator(mode="after")
    def _timing(self) -> "PromqlSource":
        _check_timing(self.interval, self.timeout)
        if self.step <= 0:
            raise ValueError("step must be more than 0s")
        if self.range is not None and self.range / self.step > 11000:
            raise ValueError(f"range/step gives {self.range / self.step:.0f} points; Prometheus allows 11,000")
        return self


MetricSource = Annotated[ScrapeSource | PromqlSource, Field(discriminator="kind")]
