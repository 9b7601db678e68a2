"""The parameters of each built-in remediation action, validated with the rest of vigil.yaml at
start-up (a runbook step is one of these, chosen by its `action` key). `{service}` in a URL or an
argument is replaced by the service acted on: the incident's top-ranked root cause."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from vigil.config.types import Duration, Secret, Strict


def _http_url(v: str) -> str:
    parts = urlsplit(v.replace("{service}", "service"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return v


class MetricBound(Strict):
    """A metric within tolerance: the newest sample of `series` between `min` and `max`."""

    series: str = Field(min_length=1, description="the series, e.g. errors_ratio{service=\"api\"}; a missing "
                                                  "service label is the service acted on")
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> MetricBound:
        if self.min is None and self.max is None:
            raise ValueError("a metric bound needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        return self


class RestartParams(Strict):
    action: Literal["restart"]
    replicas: int | None = Field(None, ge=1, description="replicas to restart (default: all, one at a time, "
                                                         "within the blast-radius cap)")
    command: list[str] | None = Field(None, min_length=1, description="restart by running this command instead "
                                                                      "of through the service's actuator")
    timeout: Duration = 60.0


class ScaleParams(Strict):
    action: Literal["scale"]
    to: int | None = Field(None, ge=0, description="replicas to run")
    by: int | None = Field(None, description="replicas to add (negative: remove)")

    @model_validator(mode="after")
    def _one(self) -> ScaleParams:
        if (self.to is None) == (self.by is None):
            raise ValueError("scale needs exactly one of to or by")
        return self


class RollbackVersionParams(Strict):
    action: Literal["rollback_version"]
    timeout: Duration = 60.0


class _Call(Strict):
    """A call out over HTTP: where, with which headers (secrets), for how long."""

    url: str
    headers: dict[str, Secret] = Field(default_factory=dict, description="sent as given; never logged")
    timeout: Duration = 10.0

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v)


class HttpParams(_Call):
    """Clear a cache, reset connections, toggle a feature flag or a fallback: an endpoint of the service."""

    action: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    json_body: dict[str, object] | None = Field(None, alias="json")
    expect_status: list[int] = Field(default_factory=lambda: list(range(200, 300)))


class WebhookParams(_Call):
    """Any webhook: a JSON body naming the service."""

    action: Literal["webhook"]


class CommandParams(Strict):
    action: Literal["command"]
    argv: list[str] = Field(min_length=1)
    timeout: Duration = 60.0


class WaitParams(Strict):
    action: Literal["wait"]
    duration: Duration = Field(description="how long to wait before the next step")

    @field_validator("duration")
    @classmethod
    def _max(cls, v: float) -> float:
        if v > 3600:
            raise ValueError("a wait is at most 1h")
        return v


class CheckParams(Strict):
    """Fail the step (and so the action) unless the service is as stated now."""

    action: Literal["check"]
    probes_healthy: bool = False
    metric: MetricBound | None = None

    @model_validator(mode="after")
    def _something(self) -> CheckParams:
        if not self.probes_healthy and self.metric is None:
            raise ValueError("a check needs probes_healthy: true, a metric, or both")
        return self


class NotifyParams(Strict):
    """Tell people: the message goes to `receiver`, or to the receivers the route tree gives the
    incident's alerts, through the durable outbox (and on the incident's timeline)."""

    action: Literal["notify"]
    message: str = Field(min_length=1, max_length=2000)
    receiver: str | None = Field(None, min_length=1, description="a receiver of alerting.receivers; default: "
                                                                 "those the incident's alerts route to")


class MaintenanceParams(Strict):
    """Open or close a maintenance window on the service: while open no runbook acts on it."""

    action: Literal["maintenance"]
    state: Literal["open", "close"]
    duration: Duration = Field(1800.0, description="an open window closes by itself after this long")


StepParams = Annotated[
    RestartParams | ScaleParams | RollbackVersionParams | HttpParams | WebhookParams | CommandParams | WaitParams
    | CheckParams | NotifyParams | MaintenanceParams,
    Field(discriminator="action")]

ACTION_KINDS = ("restart", "scale", "rollback_version", "http", "webhook", "command", "wait", "check", "notify",
                "maintenance")
