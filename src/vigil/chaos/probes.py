"""HTTP probes of a service: its status, its latency over a few requests, a field of its JSON answer."""

from __future__ import annotations

import time
from typing import Any

import httpx
from pydantic import Field

from vigil.chaos.builtins import Context, Target, builtin
from vigil.chaos.surge import percentile
from vigil.chaos.tolerance import MISSING, pick


class Get(Target):
    path: str = Field("/", pattern=r"^/", description="appended to the service's base URL")
    timeout_s: float = Field(5.0, gt=0, le=60)


async def _get(ctx: Context, p: Get) -> httpx.Response:
    return await ctx.http.get(p.base(ctx.scope, ctx.what, acting=False) + p.path, timeout=p.timeout_s)


@builtin(Get, acts=False, bound_s=lambda p: p.timeout_s + 1)
async def http_status(p: Get, ctx: Context) -> int:
    """The HTTP status of GET path (tolerance: 200, or a list)."""
    return (await _get(ctx, p)).status_code


class Latency(Get):
    requests: int = Field(5, ge=1, le=1000, description="sent one after the other")
    percentile: float = Field(95, gt=0, le=100)
    expect_status: list[int] = Field(default_factory=lambda: [200], description="any other answer fails the probe")


@builtin(Latency, acts=False, bound_s=lambda p: p.requests * p.timeout_s + 1)
async def http_latency(p: Latency, ctx: Context) -> float:
    """The latency percentile (ms) of `requests` sequential GETs (tolerance: a range)."""
    seconds = []
    for _ in range(p.requests):
        start = time.monotonic()
        resp = await _get(ctx, p)
        seconds.append(time.monotonic() - start)
        if resp.status_code not in p.expect_status:
            raise RuntimeError(f"GET {p.path} answered {resp.status_code}, not one of {p.expect_status}")
    return round(percentile(sorted(seconds), p.percentile) * 1000, 2)


class JsonField(Get):
    field: str = Field(description="dotted path into the JSON answer, e.g. status or checks.db.ok")


@builtin(JsonField, acts=False, bound_s=lambda p: p.timeout_s + 1)
async def http_json_field(p: JsonField, ctx: Context) -> Any:
    """The value at `field` of GET path's JSON answer, whatever the status (tolerance: the value)."""
    resp = await _get(ctx, p)
    try:
        body = resp.json()
    except ValueError:
        raise RuntimeError(f"GET {p.path} answered {resp.status_code} without JSON") from None
    value = pick(body, p.field)
    if value is MISSING:
        raise RuntimeError(f"GET {p.path} answered {resp.status_code}; its JSON has no {p.field!r}")
    return value
