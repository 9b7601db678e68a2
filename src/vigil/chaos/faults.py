"""Fault injection through a service's fault knobs: `POST /admin/fault` sets knobs, `DELETE` clears them
(the demo services' endpoint, docs/demo.md; any service that serves the same endpoint works)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import Field, model_validator

from vigil.chaos.builtins import Builtin, Context, Target, builtin

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


F = TypeVar("F", bound=FaultTarget)


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


def _knobs(params: type[F], knobs: Callable[[F], dict[str, Any] | None], doc: str) -> Builtin[F]:
    """A fault action: POST these knobs (or DELETE, for None) to the service's fault endpoint."""
    async def run(p: F, ctx: Context) -> Any:
        body = knobs(p)
        return await _send(ctx, p, "POST" if body is not None else "DELETE", body)
    run.__doc__ = doc
    return builtin(params, acts=True, bound_s=lambda p: p.timeout_s)(run)


class Latency(FaultTarget):
    latency_ms: float = Field(gt=0, le=120_000, description="every request waits this long first")


class Errors(FaultTarget):
    error_rate: float = Field(gt=0, le=1, description="share of business requests answered 500")


class LeakRate(FaultTarget):
    mb_per_min: float = Field(gt=0, le=1024, description="memory the process allocates and holds per minute")


inject_latency = _knobs(Latency, lambda p: {"latency_ms": p.latency_ms},
                        "Slow every request of the service by latency_ms.")
inject_errors = _knobs(Errors, lambda p: {"error_rate": p.error_rate},
                       "Answer a share (error_rate, 0..1) of the service's business requests with 500.")
inject_crash = _knobs(FaultTarget, lambda p: {"crash": True}, "Make the service's process exit (every replica of it).")
inject_hang = _knobs(FaultTarget, lambda p: {"hang": True},
                     "Make the service stop answering (business, /health, /metrics) until its faults are cleared.")
inject_leak = _knobs(LeakRate, lambda p: {"leak_mb_per_min": p.mb_per_min},
                     "Make the service leak memory at mb_per_min (up to the service's own cap).")
clear_faults = _knobs(FaultTarget, lambda p: None,
                      "Clear every fault knob of the service and free leaked memory (the usual rollback).")
