"""A load surge in phases, warm-up, ramp, sustain, spike, with each phase's latency percentiles.

The traffic is the demo's load generator (vigil/demo/load.py: open-loop Poisson arrivals, requests in
flight capped, arrivals beyond the cap counted as dropped, loopback only) driven by the phases' rates
instead of a daily curve. Each request counts in the phase it was sent in."""

from __future__ import annotations

import contextvars
import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.chaos.builtins import Context, Target, builtin
from vigil.demo.load import DRAIN_S, LoadGenerator

MAX_RPS = 1000.0
MAX_SURGE_S = 600.0
MAX_REQUESTS = 200_000
PHASES = ("warmup", "ramp", "sustain", "spike")
PERCENTILES = (50, 90, 95, 99)


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Steady(_Part):
    rps: float = Field(gt=0, le=MAX_RPS)
    duration_s: float = Field(gt=0, le=MAX_SURGE_S)


class Ramp(_Part):
    from_rps: float = Field(ge=0, le=MAX_RPS)
    to_rps: float = Field(ge=0, le=MAX_RPS)
    duration_s: float = Field(gt=0, le=MAX_SURGE_S)


class Request(_Part):
    method: Literal["GET", "HEAD", "POST", "PUT", "DELETE"] = "GET"
    path: str = Field(default="/", pattern=r"^/")
    weight: float = Field(default=1.0, gt=0)


class Surge(Target):
    requests: list[Request] = Field(default_factory=lambda: [Request()], min_length=1,
                                    description="the request mix, by weight")
    warmup: Steady | None = None
    ramp: Ramp | None = None
    sustain: Steady | None = None
    spike: Steady | None = None
    max_in_flight: int = Field(32, ge=1, le=256)
    timeout_s: float = Field(5.0, gt=0, le=30)
    seed: int | None = None

    @model_validator(mode="after")
    def _bounded(self) -> "Surge":
        parts = self.parts()
        if not parts:
            raise ValueError("give at least one phase: warmup, ramp, sustain or spike")
        total = sum(p.duration_s for _, p in parts)
        if total > MAX_SURGE_S:
            raise ValueError(f"the phases last {total:g} s in all; at most {MAX_SURGE_S:g} s")
        expected = sum(p.duration_s * (p.rps if isinstance(p, Steady) else (p.from_rps + p.to_rps) / 2)
                       for _, p in parts)
        if expected > MAX_REQUESTS:
            raise ValueError(f"the phases send about {expected:,.0f} requests; at most {MAX_REQUESTS:,}")
        return self

    def parts(self) -> list[tuple[str, Steady | Ramp]]:
        return [(n, getattr(self, n)) for n in PHASES if getattr(self, n) is not None]


@dataclass
class PhaseStats:
    name: str
    start_s: float
    end_s: float
    part: Steady | Ramp
    sent: int = 0
    dropped: int = 0
    failures: int = 0  # no answer: refused, reset, timed out
    by_class: dict[str, int] = field(default_factory=lambda: {"ok": 0, "client_errors": 0, "server_errors": 0})
    latencies: list[float] = field(default_factory=list)  # seconds, answered requests

    def rate(self, t: float) -> float:
        if isinstance(self.part, Steady):
            return self.part.rps
        frac = (t - self.start_s) / (self.end_s - self.start_s)
        return self.part.from_rps + (self.part.to_rps - self.part.from_rps) * frac

    def answered(self, status: int, seconds: float) -> None:
        self.latencies.append(seconds)
        key = "server_errors" if status >= 500 else "client_errors" if status >= 400 else "ok"
        self.by_class[key] += 1

    def report(self) -> dict[str, Any]:
        duration = self.end_s - self.start_s
        target = {"target_rps": self.part.rps} if isinstance(self.part, Steady) else \
            {"from_rps": self.part.from_rps, "to_rps": self.part.to_rps}
        return {"start_s": round(self.start_s, 3), "duration_s": round(duration, 3), **target,
                "sent": self.sent, "answered": len(self.latencies), **self.by_class, "failures": self.failures,
                "dropped": self.dropped, "cut_off": self.sent - len(self.latencies) - self.failures,
                "achieved_rps": round(self.sent / duration, 2),
                **latency_summary(self.latencies)}


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of a sorted, non-empty list."""
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def latency_summary(seconds: list[float]) -> dict[str, float | None]:
    ordered = sorted(seconds)
    out: dict[str, float | None] = {}
    for q in PERCENTILES:
        out[f"p{q}_ms"] = round(percentile(ordered, q) * 1000, 2) if ordered else None
    out["max_ms"] = round(ordered[-1] * 1000, 2) if ordered else None
    return out


_PHASE: contextvars.ContextVar[PhaseStats] = contextvars.ContextVar("surge_phase")


class SurgeProfile:
    """The phases back to back; `rate(t)` is what the load generator follows."""

    def __init__(self, parts: list[tuple[str, Steady | Ramp]]) -> None:
        self.phases: list[PhaseStats] = []
        t = 0.0
        for name, part in parts:
            self.phases.append(PhaseStats(name, t, t + part.duration_s, part))
            t += part.duration_s
        self.duration_s = t

    def at(self, t: float) -> PhaseStats:
        for phase in self.phases:
            if t < phase.end_s:
                return phase
        return self.phases[-1]

    def rate(self, t: float) -> float:
        return self.at(t).rate(t)


class SurgeLoad(LoadGenerator):
    """The demo's generator, counting each request in its phase (the phase travels with the request's task)."""

    def __init__(self, url: str, profile: SurgeProfile, **kw: Any) -> None:
        super().__init__(url, profile, noise=0.0, max_rps=MAX_RPS, **kw)  # type: ignore[arg-type]
        self.profile = profile

    def _send(self, session: aiohttp.ClientSession, t: float, weights: list[float]) -> None:
        phase = self.profile.at(t)
        sent, dropped = self.stats.sent, self.stats.dropped
        token = _PHASE.set(phase)  # the request's task copies this context when it is created
        try:
            super()._send(session, t, weights)
        finally:
            _PHASE.reset(token)
        phase.sent += self.stats.sent - sent
        phase.dropped += self.stats.dropped - dropped

    async def _request(self, session: aiohttp.ClientSession, method: str, url: str) -> None:
        phase = _PHASE.get()
        started = time.monotonic()
        try:
            async with session.request(method, url) as resp:
                await resp.read()
                phase.answered(resp.status, time.monotonic() - started)
        except (aiohttp.ClientError, TimeoutError):
            phase.failures += 1


@builtin(Surge, acts=True, bound_s=lambda p: sum(x.duration_s for _, x in p.parts()) + p.timeout_s + DRAIN_S + 5)
async def load_surge(p: Surge, ctx: Context) -> dict[str, Any]:
    """Send a load surge (warm-up, ramp, sustain, spike) and report each phase's counts and latency percentiles."""
    url = p.base(ctx.scope, ctx.what, acting=True)
    profile = SurgeProfile(p.parts())
    gen = SurgeLoad(url, profile, mix=[(r.method, r.path, r.weight) for r in p.requests],
                    max_in_flight=p.max_in_flight, timeout_s=p.timeout_s, seed=p.seed)
    stats = await gen.run(duration=profile.duration_s)
    phases = {ph.name: ph.report() for ph in profile.phases}
    every = [x for ph in profile.phases for x in ph.latencies]
    answered = {k: sum(ph.by_class[k] for ph in profile.phases) for k in ("ok", "client_errors", "server_errors")}
    total = {"duration_s": round(stats.duration_s, 3), "sent": stats.sent, "answered": len(every), **answered,
             "failures": sum(ph.failures for ph in profile.phases), "dropped": stats.dropped,
             **latency_summary(every)}
    return {"url": url, "phases": phases, "total": total}
