"""Probes of what vigil itself says, through its API: a service's health, open incidents, firing alerts,
and a metric over a recent window (`/api/v1/query`, no PromQL).

vigil's address and key come from the vigil.yaml given with -c (server.host, server.port, the first of
server.api_keys), or from the experiment's configuration entries `vigil_url` and `vigil_api_key`."""

from __future__ import annotations

import math
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field

from vigil.chaos.builtins import Context, Params, builtin
from vigil.chaos.scope import Scope


class Api(Params):
    timeout_s: float = Field(5.0, gt=0, le=60)

    def targets(self, scope: Scope, what: str, acting: bool) -> list[str]:
        return [f"vigil's API at {scope.vigil_api(what)[0]}"]


async def _call(ctx: Context, p: Api, path: str, params: dict[str, Any] | None = None) -> Any:
    url, key = ctx.scope.vigil_api(ctx.what)
    resp = await ctx.http.get(url + path, params=params, headers={"Authorization": f"Bearer {key}"},
                              timeout=p.timeout_s)
    if resp.status_code != 200:
        detail = resp.text[:300]
        raise RuntimeError(f"vigil's API answered {resp.status_code} to GET {path}: {detail}")
    return resp.json()


def _about(service: str | None) -> dict[str, str]:
    return {"service": service} if service else {}


class ServiceName(Api):
    service: str = Field(min_length=1, description="the service's name in vigil")


@builtin(ServiceName, acts=False, bound_s=lambda p: p.timeout_s + 1)
async def service_health(p: ServiceName, ctx: Context) -> str:
    """What vigil says of a service's health: healthy, unhealthy or unknown (tolerance: healthy)."""
    body = await _call(ctx, p, f"/api/v1/services/{quote(p.service, safe='')}")
    return str(body.get("health", "unknown"))


class Incidents(Api):
    service: str | None = Field(None, description="only incidents about this service")


@builtin(Incidents, acts=False, bound_s=lambda p: p.timeout_s + 1)
async def incident_open(p: Incidents, ctx: Context) -> bool:
    """Whether vigil has an active (open or acknowledged) incident, about a service if given (tolerance: false)."""
    body = await _call(ctx, p, "/api/v1/incidents", {"status": "active", "limit": 1, **_about(p.service)})
    return bool(body.get("incidents"))


class Alerts(Api):
    service: str | None = None
    alertname: str | None = Field(None, description="only alerts with this name")


@builtin(Alerts, acts=False, bound_s=lambda p: p.timeout_s + 1)
async def alerts_firing(p: Alerts, ctx: Context) -> int:
    """How many alerts vigil has firing (of a service, with a name, if given) (tolerance: 0)."""
    body = await _call(ctx, p, "/api/v1/alerts", {"state": "firing", "limit": 10_000, **_about(p.service)})
    alerts = body.get("alerts", [])
    return sum(1 for a in alerts if p.alertname is None or a.get("labels", {}).get("alertname") == p.alertname)


class Metric(Api):
    series: str = Field(min_length=1, description='one series, e.g. http_request_errors_total:rate{service="x"}')
    window_s: float = Field(60.0, gt=0, le=86400, description="the last this many seconds")
    aggregate: Literal["last", "mean", "max", "min"] = "mean"


@builtin(Metric, acts=False, bound_s=lambda p: p.timeout_s + 1)
async def metric(p: Metric, ctx: Context) -> float:
    """A series' last, mean, max or min value over the last window_s in vigil's store (tolerance: a range)."""
    window = {"series": p.series, "start": f"-{math.ceil(p.window_s)}s", "end": "now", "resolution": "raw"}
    body = await _call(ctx, p, "/api/v1/query", window)
    values = [float(v) for v in body.get("values", []) if v is not None and not math.isnan(float(v))]
    if not values:
        raise RuntimeError(f"vigil has no sample of {p.series} in the last {p.window_s:g} s")
    if p.aggregate == "last":
        return values[-1]
    if p.aggregate == "max":
        return max(values)
    if p.aggregate == "min":
        return min(values)
    return sum(values) / len(values)
