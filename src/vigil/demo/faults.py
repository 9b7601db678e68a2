"""Fault knobs of a demo service: what `POST /admin/fault` sets and every request consults.

A fault is a plain value; the service keeps the current one and replaces it on each change,
so a request sees one consistent set of knobs."""

from __future__ import annotations

import asyncio
import random
from dataclasses import asdict, dataclass, replace
from typing import Any

MB = 1024 * 1024

# /health turns 503 at or above this error rate: the service is "erroring heavily".
HEAVY_ERROR_RATE = 0.5

_KNOBS: dict[str, tuple[type, ...]] = {
    "latency_ms": (int, float),
    "error_rate": (int, float),
    "leak_mb_per_min": (int, float),
    "hang": (bool,),
    "crash": (bool,),
}


class FaultError(ValueError):
    """A fault request that cannot be applied; the message says which knob and why."""


@dataclass(frozen=True)
class Fault:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    leak_mb_per_min: float = 0.0
    hang: bool = False
    crash: bool = False

    def merged(self, changes: Any) -> "Fault":
        """This fault with the knobs in `changes` (a JSON object, any subset) set; validated."""
        if not isinstance(changes, dict):
            raise FaultError("expected a JSON object such as {\"latency_ms\": 500}")
        unknown = sorted(set(changes) - set(_KNOBS))
        if unknown:
            raise FaultError(f"unknown knob(s) {', '.join(unknown)}; known: {', '.join(_KNOBS)}")
        for key, value in changes.items():
            kinds = _KNOBS[key]
            # bool is an int in Python; a number knob must not accept true/false.
            if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
                raise FaultError(f"{key} must be {'true/false' if bool in kinds else 'a number'}; "
                                 f"found {value!r}")
        typed: dict[str, Any] = {k: (v if isinstance(v, bool) else float(v)) for k, v in changes.items()}
        fault = replace(self, **typed)
        if fault.latency_ms < 0 or fault.leak_mb_per_min < 0:
            raise FaultError("latency_ms and leak_mb_per_min cannot be negative")
        if not 0.0 <= fault.error_rate <= 1.0:
            raise FaultError(f"error_rate must be between 0 and 1; found {fault.error_rate:g}")
        return fault

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def erroring_heavily(self) -> bool:
        return self.error_rate >= HEAVY_ERROR_RATE

    def should_fail(self, rng: random.Random) -> bool:
        return self.error_rate > 0 and rng.random() < self.error_rate


class Leak:
    """Memory really held by the process, grown by a leak fault, capped so the machine stays safe."""

    def __init__(self, cap_mb: float) -> None:
        self.cap_bytes = int(cap_mb * MB)
        self._chunks: list[bytes] = []
        self.bytes = 0

    def grow(self, nbytes: int) -> int:
        nbytes = min(nbytes, self.cap_bytes - self.bytes)
        if nbytes <= 0:
            return 0
        # b"x" * n writes every byte, so the pages are resident (calloc'd zeros would not be).
        self._chunks.append(b"x" * nbytes)
        self.bytes += nbytes
        return nbytes

    def release(self) -> None:
        self._chunks.clear()
        self.bytes = 0


async def leak_forever(get_fault: Any, leak: Leak, tick_s: float = 0.5) -> None:
    """Grow `leak` at the current fault's rate until cancelled. `get_fault()` returns the fault."""
    carry = 0.0
    while True:
        await asyncio.sleep(tick_s)
        rate = get_fault().leak_mb_per_min
        if rate <= 0:
            carry = 0.0
            continue
        carry += rate * MB * tick_s / 60.0
        whole = int(carry)
        if whole >= 4096:  # allocate in page-sized steps or more
            leak.grow(whole)
            carry -= whole
