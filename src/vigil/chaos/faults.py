"""Fault injection through a service's fault knobs: `POST /admin/fault` sets knobs, `DELETE` clears them
(the demo services' endpoint, docs/demo.md; any service that serves the same endpoint works)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from vigil.chaos.builtins import Context, Target, builtin

ADMIN_PATH = "/admin/fault"
KNOBS = ("latency_ms", "error_rate", "leak_mb_per_min", "hang", "crash")


class FaultTarget(Target):
    admin_path: str = Field(ADMIN_PATH, description="where the service takes faults")
    timeout_s: float = Field(5.0, gt=0, le=60)


async def _send(ctx: Context, p: FaultTarget, method: str, knobs: dict[str, Any] | None = None) -> Any:
    url = p.base(ctx.scope, ctx.what, acting=True) + p.admin_path
    resp = await ctx.http.request(method, url, json=knobs, timeout=p.timeout_s)
    if resp.status_code >= 300:
        raise RuntimeError(f"{method} {url} answered {resp.status_code}: {resp.text[:300]}")
    try:
        return resp.json()
    except ValueError:
        return resp.text[:2000]


class Fault(FaultTarget):
    latency_ms: float | None = Field(None, ge=0, le=120_000)
    error_rate: float | None = Field(None, ge=0, le=1)
    leak_mb_per_min: float | None = Field(None, ge=0, le=1024)
    hang: bool | None = None
    crash: bool | None = None

    @model_validator(mode="after")
    def _some(self) -> "Fault":
        if not self.knobs():
            raise ValueError(f"set at least one of {', '.join(KNOBS)}")
        return self

    def knobs(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in KNOBS if getattr(self, n) is not None}


@builtin(Fault, acts=True, bound_s=lambda p: p.timeout_s)
async def inject_fault(p: Fault, ctx: Context) -> Any:
    """Set any of the fault knobs at once: latency_ms, error_rate, leak_mb_per_min, hang, crash."""
    return await _send(ctx, p, "POST", p.knobs())


class Latency(FaultTarget):
    latency_ms: float = Field(gt=0, le=120_000, description="every request waits this long first")


@builtin(Latency, acts=True, bound_s=lambda p: p.timeout_s)
async def inject_latency(p: Latency, ctx: Context) -> Any:
    """Slow every request of the service by latency_ms."""
    return await _send(ctx, p, "POST", {"latency_ms": p.latency_ms})


class Errors(FaultTarget):
    error_rate: float = Field(gt=0, le=1, description="share of business requests answered 500")


@builtin(Errors, acts=True, bound_s=lambda p: p.timeout_s)
async def inject_errors(p: Errors, ctx: Context) -> Any:
    """Answer a share (error_rate, 0..1) of the service's business requests with 500."""
    return await _send(ctx, p, "POST", {"error_rate": p.error_rate})


@builtin(FaultTarget, acts=True, bound_s=lambda p: p.timeout_s)
async def inject_crash(p: FaultTarget, ctx: Context) -> Any:
    """Make the service's process exit (every replica of it)."""
    return await _send(ctx, p, "POST", {"crash": True})


@builtin(FaultTarget, acts=True, bound_s=lambda p: p.timeout_s)
async def inject_hang(p: FaultTarget, ctx: Context) -> Any:
    """Make the service stop answering (business, /health, /metrics) until its faults are cleared."""
    return await _send(ctx, p, "POST", {"hang": True})


class LeakRate(FaultTarget):
    mb_per_min: float = Field(gt=0, le=1024, description="memory the process allocates and holds per minute")


@builtin(LeakRate, acts=True, bound_s=lambda p: p.timeout_s)
async def inject_leak(p: LeakRate, ctx: Context) -> Any:
    """Make the service leak memory at mb_per_min (up to the service's own cap)."""
    return await _send(ctx, p, "POST", {"leak_mb_per_min": p.mb_per_min})


@builtin(FaultTarget, acts=True, bound_s=lambda p: p.timeout_s)
async def clear_faults(p: FaultTarget, ctx: Context) -> Any:
    """Clear every fault knob of the service and free leaked memory (the usual rollback)."""
    return await _send(ctx, p, "DELETE")
