"""Fakes of vigil's plug points, for tests and replay. Shipped with the package so users writing
their own adapters can test them the same way.

| plug point | protocol | fake |
|---|---|---|
| time | `clock.Clock` | `FakeClock` |
| blocking work (store writer, worker) | `pipeline.Offload` | `InlineWriter` |
| a stage of the loop | `pipeline.Stage` | `RecordingStage` |
| probe / metric source | `sources.Collector` | `FakeCollector` |
| scale target | `act.actuators.base.Actuator` | `MemoryActuator` |
| the Kubernetes API (for the `kubernetes` actuator) | its HTTP endpoints | `FakeKubeApi` (a loopback server) |
| detector | `detect.base.Detector` | `ScriptedDetector` |
| state blobs | `store.faces.StateStore` | `MemoryStateStore` |
| notifier | `notify.base.Notifier` | `FakeNotifier` |
| remediation actions | `heal.ledger.ActionStore` | `MemoryActionStore` |
| maintenance windows | `heal.windows.WindowStore` | `MemoryActionStore` |
| audit log | `heal.guards.AuditSink` | `MemoryAudit` |
| kill switch | `heal.guards.KillSwitch` | `FakeKillSwitch` |
| a notify step's receivers | `heal.actions.Teller` | `MemoryTeller` |
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import numpy as np

from vigil.act.actuators.fake_kube import FakeKubeApi
from vigil.act.actuators.memory import MemoryActuator
from vigil.forecast.champion import MemoryStateStore
from vigil.model import Delivery, Notice, Score
from vigil.notify.base import NotifierBase
from vigil.pipeline import Batch
from vigil.sources.base import FakeCollector

T = TypeVar("T")

__all__ = ["FakeClock", "FakeCollector", "FakeKillSwitch", "FakeKubeApi", "FakeNotifier", "InlineWriter",
           "MemoryActionStore", "MemoryActuator", "MemoryAudit", "MemoryStateStore", "MemoryTeller", "RecordingStage",
           "ScriptedDetector"]


class FakeClock:
    """A clock that only moves when told to. `sleep()` parks the caller until `advance()` moves time
    past its deadline, so timeline tests run at full speed and deterministically."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        await fut

    def set(self, ts: float) -> None:
        """Jump to ts without waking sleepers in between one by one (use advance() for that)."""
        self._mono += ts - self._now
        self._now = ts

    async def advance(self, seconds: float, step: float | None = None) -> None:
        """Move time forward by `seconds`, waking each sleeper at its deadline, in order, and
        letting the event loop run what it woke before moving on."""
        target = self._now + seconds
        while True:
            await _settle()
            if not self._sleepers or self._sleepers[0][0] > target:
                break
            deadline, _, fut = heapq.heappop(self._sleepers)
            if deadline > self._now:
                self.set(deadline)
            if not fut.done():
                fut.set_result(None)
        self.set(target)
        await _settle()

    @property
    def pending_sleepers(self) -> int:
        return sum(1 for *_, f in self._sleepers if not f.done())


async def _settle(rounds: int = 20) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


class InlineWriter:
    """`Offload` that runs each call in place, on the caller's thread. With it as the engine's writer
    and worker, a pass never waits on another thread, so a FakeClock timeline is exact and needs no
    real time (no sleeps, no polling)."""

    in_flight = 0

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return fn(*args, **kwargs)

    def call_blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return fn(*args, **kwargs)

    def close(self) -> None:
        return None


class RecordingStage:
    """A stage that keeps every batch it saw (and can be told to fail), for timeline tests."""

    def __init__(self, name: str = "recording", fail: bool = False) -> None:
        self.name, self.fail = name, fail
        self.batches: list[Batch] = []
        self.started = self.closed = False

    async def start(self) -> None:
        self.started = True

    async def run(self, batch: Batch) -> None:
        self.batches.append(batch)
        if self.fail:
            raise RuntimeError(f"stage {self.name} fails, as scripted")

    async def close(self) -> None:
        self.closed = True


class ScriptedDetector:
    """A detector whose score is a function of the value (default: anomalous above `above`)."""

    THRESHOLDS: ClassVar[dict[str, float]] = {"standard": 0.5, "reward_low_FP": 0.5, "reward_low_FN": 0.5}

    def __init__(self, score: Callable[[float], float] | None = None, above: float = 1.0) -> None:
        self.score = score or (lambda v: 1.0 if v > above else 0.0)
        self.seen = 0

    def update(self, ts: float, value: float) -> Score:
        self.seen += 1
        v = float(self.score(value))
        return Score(v, f"scripted: value {value:g} scores {v:g}")

    def score_many(self, ts: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.array([self.update(t, v).value for t, v in zip(ts, values)])

    def state(self) -> bytes:
        return str(self.seen).encode()

    @classmethod
    def from_state(cls, blob: bytes) -> ScriptedDetector:
        det = cls()
        det.seen = int(blob.decode())
        return det


class FakeNotifier(NotifierBase):
    """A notifier that records what it is sent and answers as scripted: `script` holds the answers of
    the next sends in order ("ok", "retry" for a retryable failure, "fail" for one not worth
    retrying, or a Delivery); once it is empty every send answers `default`. With `hold` set to an
    asyncio.Event, each send waits for it (to keep notices in flight, e.g. across a simulated crash)."""

    def __init__(self, kind: str = "webhook", send_resolved: bool = True,
                 script: list[str | Delivery] | None = None, default: str | Delivery = "ok") -> None:
        self.kind = kind
        self._send_resolved = send_resolved
        self.script: deque[str | Delivery] = deque(script or [])
        self.default = default
        self.hold: asyncio.Event | None = None
        self.attempts: list[Notice] = []  # every send, in order
        self.delivered: list[Notice] = []  # the sends answered ok, in order
        self.closed = False

    @property
    def send_resolved(self) -> bool:
        return self._send_resolved

    def fail(self, retryable: bool = True, times: int | None = None) -> None:
        """Fail the next `times` sends (None: every send until recover())."""
        answer = "retry" if retryable else "fail"
        if times is None:
            self.default = answer
        else:
            self.script.extend([answer] * times)

    def recover(self) -> None:
        self.script.clear()
        self.default = "ok"

    @property
    def keys(self) -> list[str]:
        return [n.key for n in self.delivered]

    async def send(self, notice: Notice) -> Delivery:
        self.attempts.append(notice)
        if self.hold is not None:
            await self.hold.wait()
        answer = self.script.popleft() if self.script else self.default
        if isinstance(answer, Delivery):
            delivery = answer
        elif answer == "ok":
            delivery = Delivery(True, False, "accepted", 200)
        elif answer == "retry":
            delivery = Delivery(False, True, "scripted failure: 503", 503)
        elif answer == "fail":
            delivery = Delivery(False, False, "scripted refusal: 400", 400)
        else:
            raise ValueError(f"FakeNotifier script: {answer!r} is not ok, retry, fail or a Delivery")
        if delivery.ok:
            self.delivered.append(notice)
        return delivery

    async def aclose(self) -> None:
        self.closed = True


class MemoryActionStore:
    """`heal.ledger.ActionStore` in memory (copies in and out, as a database would)."""

    def __init__(self) -> None:
        import copy

        self._copy = copy.deepcopy
        self.rows: dict[int, Any] = {}
        self.step_rows: dict[tuple[int, str, int], Any] = {}
        self.windows: dict[str, Any] = {}  # service -> heal.windows.WindowRecord
        self.writes = 0

    def save_action(self, action: Any) -> None:
        self.writes += 1
        row = self._copy(action)
        row.steps = []
        self.rows[action.id] = row

    def save_step(self, step: Any) -> None:
        self.writes += 1
        self.step_rows[(step.action_id, step.phase, step.index)] = self._copy(step)

    def _with_steps(self, row: Any) -> Any:
        out = self._copy(row)
        mine = [(k, s) for k, s in self.step_rows.items() if k[0] == row.id]
        out.steps = [self._copy(s) for _, s in sorted(mine, key=lambda kv: (kv[0][1] != "steps", kv[0][2]))]
        return out

    def actions(self, state: str | None = None, service: str | None = None, since: float | None = None,
                limit: int = 100, *, incident: int | None = None) -> list[Any]:
        from vigil.heal.ledger import UNFINISHED

        rows = sorted(self.rows.values(), key=lambda r: -r.id)
        wanted = UNFINISHED if state == "unfinished" else (state,)
        rows = [r for r in rows if (state is None or r.state in wanted)
                and (service is None or r.service == service) and (since is None or r.created_at >= since)
                and (incident is None or r.incident == incident)]
        return [self._with_steps(r) for r in rows[:limit]]

    def action(self, action_id: int) -> Any:
        row = self.rows.get(action_id)
        return None if row is None else self._with_steps(row)

    def last_action_id(self) -> int:
        return max(self.rows, default=0)

    # maintenance windows (`heal.windows.WindowStore`)
    def open_maintenance(self, window: Any) -> None:
        self.writes += 1
        self.windows[window.service] = window

    def close_maintenance(self, service: str) -> bool:
        self.writes += 1
        return self.windows.pop(service, None) is not None

    def maintenance_windows(self, open_at: float | None = None) -> list[Any]:
        return [w for _, w in sorted(self.windows.items()) if open_at is None or w.ends_at > open_at]


class MemoryAudit:
    """`heal.guards.AuditSink` keeping its records in a list (the real one is vigil.audit's chain)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def append(self, actor: str, action: str, reason: str, inputs: dict[str, Any], result: dict[str, Any],
               duration_s: float, incident: int | None = None, service: str | None = None) -> dict[str, Any]:
        rec = {"actor": actor, "action": action, "reason": reason, "inputs": inputs, "result": result,
               "duration_s": duration_s, "incident": incident, "service": service}
        self.records.append(rec)
        return rec


class MemoryTeller:
    """`heal.actions.Teller` keeping what notify steps told, as (action, step, message, receiver); the
    receivers are the step's, else `routed`. Telling one (action, step, receiver) again adds nothing."""

    def __init__(self, routed: list[str] | None = None) -> None:
        self.routed = list(routed if routed is not None else ["team"])
        self.told: list[tuple[int, str, str, str]] = []

    async def tell(self, ctx: Any, message: str, receiver: str | None) -> dict[str, Any]:
        to = [receiver] if receiver else list(self.routed)
        added = 0
        for r in to:
            seen = any((a, s, rr) == (ctx.action_id, ctx.step, r) for a, s, _, rr in self.told)
            if not seen:
                self.told.append((ctx.action_id, ctx.step, message, r))
                added += 1
        return {"receivers": to, "key": f"remediation/{ctx.action_id}/{ctx.step}", "added": added,
                "duplicates": len(to) - added, "deferred": 0, "unknown_receiver": 0}


class FakeKillSwitch:
    """`heal.guards.KillSwitch` a test flips."""

    def __init__(self, paused: bool = False) -> None:
        self.paused = paused

    def is_paused(self) -> bool:
        return self.paused
