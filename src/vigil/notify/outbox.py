"""The durable outbox: every notification is written to the store before it is sent, and delivered
at least once, in order per group, through retries, circuit breakers and dead letters.

Driven by the engine: `enqueue(notices, now)` writes them; `tick(now)` (every pass) records the
results of finished attempts and starts the attempts now due, as asyncio tasks beside the pass, and
returns what happened since the last call. No timers of its own: time moves with the `now` passed
in, so the same code runs live and on a FakeClock. When an attempt finishes between ticks, the next
due one starts at once (against the last tick's `now`), so throughput is not bound to the tick.

Guarantees (docs/notifications.md):
- at-least-once, deduplicated by (key, receiver, integration): enqueueing the same key twice sends once;
- `sending` is written before each attempt: after a crash, the rows still `sending` are exactly those
  in flight, and only they are sent again (same key);
- per (receiver, integration, group) notices go out one at a time, in the order they were enqueued:
  a resolved notice never overtakes its firing one; a resolved notice goes only where the firing one
  was delivered (Alertmanager's rule), and always goes there, however long the firing one retried;
- retryable failures back off exponentially with full jitter, up to max_attempts or max_age since the
  first attempt; then, or at once for a failure not worth retrying, the row is a dead letter
  (listed with `store.outbox_entries(state="dead")`, re-queued with `requeue`);
- a circuit breaker per endpoint; bounded concurrency in all and per endpoint.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vigil.breaker import CircuitBreaker
from vigil.config.receivers import OutboxConfig
from vigil.model import AlertStatus, Delivery, Notice
from vigil.notify import integration_names
from vigil.notify.base import Notifier
from vigil.notify.policy import EnqueueResult, OutboxPolicy, Outcome, RequeueResult
from vigil.pipeline import Offload
from vigil.store.outbox import (
    DEAD,
    DELIVERED,
    PENDING,
    SENDING,
    SKIPPED,
    NewRow,
    OutboxRow,
    OutboxStore,
    RowUpdate,
    Told,
    encode_notice,
)

log = logging.getLogger("vigil.notify")

UNSAVED_MAX = 100_000  # notices kept in memory while the store refuses writes
PRUNE_EVERY_S = 3600.0


@dataclass(slots=True, eq=False)
class _Entry:
    id: int
    notice: Notice
    lane: _Lane
    attempts: int = 0
    next_at: float = 0.0
    first_attempt_at: float | None = None
    state: str = PENDING
    last_error: str = ""
    status_code: int | None = None
    delivered_at: float | None = None
    updated_at: float = 0.0

    def update(self) -> RowUpdate:
        return RowUpdate(self.id, self.state, self.attempts, self.next_at, self.first_attempt_at,
                         self.delivered_at, self.last_error[:1000], self.status_code, self.updated_at)


@dataclass(eq=False)
class _Lane:
    """One endpoint: a receiver's integration, its notifier and breaker, its queues per group."""

    receiver: str
    integration: str
    notifier: Notifier
    send_resolved: bool
    breaker: CircuitBreaker
    groups: dict[str, deque[_Entry]] = field(default_factory=dict)  # unfinished, oldest first
    ready: list[tuple[float, int, _Entry]] = field(default_factory=list)  # group heads not in flight
    told: dict[str, str] = field(default_factory=dict)  # group -> key of the firing notice delivered
    in_flight: int = 0

    @property
    def name(self) -> str:
        return f"{self.receiver}/{self.integration}"


class Outbox:
    def __init__(self, store: OutboxStore, writer: Offload, receivers: Mapping[str, Sequence[Notifier]],
                 config: OutboxConfig | OutboxPolicy | None = None, rng: random.Random | None = None) -> None:
        self.policy = config if isinstance(config, OutboxPolicy) else OutboxPolicy.from_config(config)
        self._store, self._writer = store, writer
        self._rng = rng or random.Random()
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self._by_receiver: dict[str, list[_Lane]] = {}
        for receiver, notifiers in receivers.items():
            self._by_receiver[receiver] = []  # a receiver may have no integration (Alertmanager's null one)
            for name, n in zip(integration_names(list(notifiers)), notifiers, strict=True):
                lane = _Lane(receiver, name, n, bool(getattr(n, "send_resolved", True)),
                             CircuitBreaker(f"{receiver}/{name}", self.policy.breaker))
                self._lanes[(receiver, name)] = lane
                self._by_receiver[receiver].append(lane)
        self._order = list(self._lanes.values())
        self._turn = itertools.count()
        self._lock = asyncio.Lock()
        self._loaded = False
        self._closing = False
        self._now = 0.0
        self._keys: set[tuple[str, str, str]] = set()  # unfinished rows in memory
        self._dirty: dict[int, _Entry] = {}  # rows whose store state lags memory
        self._told_dirty: dict[Told, str | None] = {}
        self._orphans: list[RowUpdate] = []  # rows of integrations no longer configured: dead letters
        self._finished: list[tuple[_Entry, Delivery]] = []
        self._outcomes: list[Outcome] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._pump_task: asyncio.Task[None] | None = None
        self._unsaved: list[tuple[Notice, float]] = []
        self._in_flight = 0
        self._next_prune = 0.0

    # --------------------------------------------------------------------------------- the engine

    async def start(self, now: float | None = None) -> None:
        """Load what is unfinished. Rows still `sending` were in flight when vigil stopped: they are
        sent again, with the same key. Safe to call again; tick() calls it until it succeeds."""
        if now is not None:
            self._now = max(self._now, now)
        async with self._lock:
            await self._load()

    async def enqueue(self, notices: Sequence[Notice], now: float) -> EnqueueResult:
        """Write `notices` to the store (one row per wanted integration); nothing is sent before the
        write succeeded. If the store refuses, they wait in memory and are written at a later tick."""
        self._now = max(self._now, now)
        async with self._lock:
            return await self._enqueue(list(notices), now)

    async def tick(self, now: float) -> list[Outcome]:
        """Once per pass: record finished attempts, start the due ones, and return every outcome
        since the last call. Never waits for a receiver, only for its own short store writes."""
        self._now = max(self._now, now)
        async with self._lock:
            if not self._loaded:
                await self._load()
            if self._unsaved:  # written when the store refused: try again, in one write
                backlog, self._unsaved = self._unsaved, []
                await self._enqueue([n for n, _ in backlog], backlog[0][1])
            await self._pump(now)
            if self._loaded and now >= self._next_prune:
                await self._prune(now)
        out, self._outcomes = self._outcomes, []
        return out

    async def requeue(self, ids: Sequence[int], now: float) -> RequeueResult:
        """Dead letters back in line (attempts from zero). Refused with a reason: a row that is not
        dead, one superseded by a later notice of its group, one whose integration is gone."""
        self._now = max(self._now, now)
        async with self._lock:
            known = set(self._lanes)
            rows, refused = await self._writer.call(self._store.outbox_requeue, list(ids), now, known)
            for row in rows:
                self._admit(self._entry_of(row, self._lanes[(row.receiver, row.integration)]))
            await self._pump(now)
        return RequeueResult([r.id for r in rows], refused)

    async def idle(self) -> None:
        """Wait until no attempt is under way and every finished one is recorded (tests, shutdown).
        Attempts that become due meanwhile (against the last tick's now) are waited for too."""
        while True:
            waiting = list(self._tasks)
            if self._pump_task is not None and not self._pump_task.done():
                waiting.append(self._pump_task)
            if waiting:
                await asyncio.gather(*waiting, return_exceptions=True)
                continue
            if not self._finished:
                return
            async with self._lock:
                await self._pump(self._now)

    async def close(self) -> None:
        """Start nothing new; give attempts under way attempt_timeout to finish and record them; an
        attempt still running is cancelled and stays `sending` (sent again after the restart)."""
        self._closing = True
        if self._tasks:
            _, late = await asyncio.wait(list(self._tasks), timeout=self.policy.attempt_timeout)
            for task in late:
                task.cancel()
        if self._pump_task is not None:
            await asyncio.gather(self._pump_task, return_exceptions=True)
        async with self._lock:
            try:
                await self._pump(self._now)
            except Exception:  # the store is gone: what is unrecorded is re-sent after the restart
                log.exception("outbox: could not record the last results")
        for lane in self._order:
            close = getattr(lane.notifier, "aclose", None)
            if close is not None:
                await close()

    # ---------------------------------------------------------------------------------- reading

    def breakers(self, now: float) -> list[dict[str, Any]]:
        """Each endpoint's breaker (state, calls and failures in its window), for /metrics and the API."""
        return [lane.breaker.snapshot(now) for lane in self._order]

    def snapshot(self, now: float) -> dict[str, Any]:
        lanes = [{"endpoint": lane.name, "queued": sum(len(q) for q in lane.groups.values()),
                  "in_flight": lane.in_flight, "breaker": lane.breaker.state(now).value}
                 for lane in self._order]
        return {"in_flight": self._in_flight, "queued": len(self._keys), "unsaved": len(self._unsaved),
                "endpoints": lanes}

    # ------------------------------------------------------------------------------------ inside

    async def _load(self) -> None:
        if self._loaded:
            return
        try:
            rows = await self._writer.call(self._store.outbox_unfinished)
            told = await self._writer.call(self._store.outbox_told)
        except Exception:
            log.exception("outbox: cannot read the store; nothing is sent until it can")
            return
        for (receiver, integration, group), key in told.items():
            lane = self._lanes.get((receiver, integration))
            if lane is not None:
                lane.told[group] = key
        for row in rows:
            lane = self._lanes.get((row.receiver, row.integration))
            if lane is None:  # the configuration no longer has it: say so in the dead letters
                why = f"receiver {row.receiver!r} has no integration {row.integration} any more"
                self._orphans.append(RowUpdate(row.id, DEAD, row.attempts, row.next_at, row.first_attempt_at,
                                               None, why, row.status_code, self._now))
                self._outcomes.append(_outcome(row.notice, row.id, row.receiver, row.integration, DEAD,
                                               row.attempts, why, row.status_code, None, self._now))
                continue
            entry = self._entry_of(row, lane)
            if row.state == SENDING:
                self._report(entry, "recovered", self._now, "was in flight at the last stop: sending again")
            self._admit(entry)
        self._loaded = True

    def _entry_of(self, row: OutboxRow, lane: _Lane) -> _Entry:
        assert row.notice is not None
        return _Entry(row.id, row.notice, lane, row.attempts, row.next_at, row.first_attempt_at, PENDING,
                      row.last_error, row.status_code, None, row.updated_at)

    async def _enqueue(self, notices: list[Notice], now: float) -> EnqueueResult:
        result = EnqueueResult()
        rows: list[NewRow] = []
        plan: list[tuple[Notice, _Lane | None]] = []
        for n in notices:
            lanes = self._by_receiver.get(n.receiver)
            if lanes == []:
                result.not_wanted += 1  # a receiver without integrations: nothing to send, by design
                continue
            body = encode_notice(n)
            if lanes is None:
                why = f"no receiver named {n.receiver!r} in the configuration"
                rows.append(NewRow(n.key, n.receiver, "-", n.group_key, n.status.value, n.kind, body, DEAD,
                                   now, now, why))
                plan.append((n, None))
                continue
            wanted = {_lane_name(i) for i in n.integrations} if n.integrations else None
            for lane in lanes:
                if wanted is not None and lane.integration not in wanted:
                    continue  # the dispatcher decided this one is not told now (Alertmanager decides per integration)
                if n.status is AlertStatus.RESOLVED and not lane.send_resolved:
                    result.not_wanted += 1
                elif (n.key, n.receiver, lane.integration) in self._keys:
                    result.duplicates += 1
                else:
                    rows.append(NewRow(n.key, n.receiver, lane.integration, n.group_key, n.status.value,
                                       n.kind, body, PENDING, now, now))
                    plan.append((n, lane))
        if not rows:
            return result
        try:
            ids = await self._writer.call(self._store.outbox_add, rows)
        except Exception:
            log.exception("outbox: cannot write %d notification(s); kept for the next tick", len(rows))
            self._unsaved += [(n, now) for n in notices]
            if len(self._unsaved) > UNSAVED_MAX:
                log.error("outbox: %d unsaved notifications dropped (store down too long)",
                          len(self._unsaved) - UNSAVED_MAX)
                del self._unsaved[:-UNSAVED_MAX]
            result.deferred = len(rows)
            return result
        for (n, target), new_id in zip(plan, ids, strict=True):
            if new_id is None:
                result.duplicates += 1
            elif target is None:
                result.unknown_receiver += 1
                log.warning("outbox: notice %s names receiver %r, which is not configured", n.key, n.receiver)
            else:
                result.added += 1
                if self._loaded:  # else the load will read it
                    self._admit(_Entry(new_id, n, target, 0, now, None, PENDING, "", None, None, now))
        return result

    def _admit(self, entry: _Entry) -> None:
        lane = entry.lane
        queue = lane.groups.setdefault(entry.notice.group_key, deque())
        queue.append(entry)
        self._keys.add((entry.notice.key, lane.receiver, lane.integration))
        if len(queue) == 1:
            heapq.heappush(lane.ready, (entry.next_at, entry.id, entry))

    def _finish(self, entry: _Entry) -> None:
        """Delivered, dead or skipped: out of its group's line; the next in line becomes ready."""
        lane = entry.lane
        group = entry.notice.group_key
        queue = lane.groups[group]
        assert queue[0] is entry, "only a group's head is ever attempted"
        queue.popleft()
        self._keys.discard((entry.notice.key, lane.receiver, lane.integration))
        if queue:
            nxt = queue[0]
            heapq.heappush(lane.ready, (nxt.next_at, nxt.id, nxt))
        else:
            del lane.groups[group]

    async def _pump(self, now: float) -> None:
        """Record finished attempts, choose the due ones, write both in one transaction, start those."""
        finished, self._finished = self._finished, []
        for entry, delivery in finished:
            self._settle(entry, delivery, now)
        claims = [] if self._closing or not self._loaded else self._claim(now)
        if not self._dirty and not self._told_dirty and not self._orphans:
            return
        updates = [e.update() for e in self._dirty.values()] + self._orphans
        told = list(self._told_dirty.items())
        try:
            await self._writer.call(self._store.outbox_update, updates, told, now)
        except Exception:
            log.exception("outbox: cannot record delivery states; sending waits for the store")
            for entry, first in claims:
                self._unclaim(entry, first)
            return
        self._dirty.clear()
        self._told_dirty.clear()
        self._orphans = []
        for entry, _ in claims:
            task = asyncio.create_task(self._attempt(entry), name=f"notify {entry.lane.name} {entry.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _claim(self, now: float) -> list[tuple[_Entry, float | None]]:
        claims: list[tuple[_Entry, float | None]] = []
        budget = self.policy.max_in_flight - self._in_flight
        if budget <= 0 or not self._order:
            return claims
        start = next(self._turn) % len(self._order)  # take turns: one busy endpoint does not starve others
        for lane in self._order[start:] + self._order[:start]:
            while (budget > 0 and lane.ready and lane.ready[0][0] <= now
                   and lane.in_flight < self.policy.max_in_flight_per_endpoint):
                entry = lane.ready[0][2]
                if entry.notice.status is AlertStatus.RESOLVED and entry.notice.group_key not in lane.told:
                    heapq.heappop(lane.ready)
                    entry.state, entry.updated_at = SKIPPED, now
                    entry.last_error = "not sent: this integration was never told the group fired"
                    self._dirty[entry.id] = entry
                    self._report(entry, SKIPPED, now)
                    self._finish(entry)
                    continue
                if not lane.breaker.allow(now):
                    break
                heapq.heappop(lane.ready)
                claims.append((entry, entry.first_attempt_at))
                entry.attempts += 1
                entry.state, entry.updated_at = SENDING, now
                if entry.first_attempt_at is None:
                    entry.first_attempt_at = now
                self._dirty[entry.id] = entry
                lane.in_flight += 1
                self._in_flight += 1
                budget -= 1
        return claims

    def _unclaim(self, entry: _Entry, first_attempt_at: float | None) -> None:
        entry.attempts -= 1
        entry.state, entry.first_attempt_at = PENDING, first_attempt_at
        entry.lane.in_flight -= 1
        self._in_flight -= 1
        entry.lane.breaker.release()
        heapq.heappush(entry.lane.ready, (entry.next_at, entry.id, entry))

    async def _attempt(self, entry: _Entry) -> None:
        try:
            async with asyncio.timeout(self.policy.attempt_timeout):
                delivery = await entry.lane.notifier.send(entry.notice)
        except TimeoutError:
            delivery = Delivery(False, True, f"no answer within {self.policy.attempt_timeout:g}s")
        except Exception as exc:  # a notifier must not raise; if one does, it is not the receiver's fault
            # the type only: an exception's text may quote a URL with a token in it
            log.error("outbox: the notifier of %s raised %s", entry.lane.name, type(exc).__name__)
            kind = entry.lane.notifier.kind
            delivery = Delivery(False, True, f"the {kind} notifier raised {type(exc).__name__}")
        self._finished.append((entry, delivery))
        if self._pump_task is None or self._pump_task.done():
            self._pump_task = asyncio.create_task(self._pump_finished())

    async def _pump_finished(self) -> None:
        """Right after attempts finish: record them and start what is due, without waiting a tick."""
        while self._finished:
            async with self._lock:
                try:
                    await self._pump(self._now)
                except Exception:
                    log.exception("outbox: pump failed")
                    return

    def _settle(self, entry: _Entry, d: Delivery, now: float) -> None:
        lane = entry.lane
        lane.in_flight -= 1
        self._in_flight -= 1
        before = lane.breaker.state(now)
        lane.breaker.record(d.ok or not d.retryable, now)  # a refusal means the endpoint is up
        after = lane.breaker.state(now)
        if after is not before:
            log.info("outbox: breaker of %s is %s", lane.name, after.value)
        entry.last_error, entry.status_code, entry.updated_at = d.detail, d.status_code, now
        self._dirty[entry.id] = entry
        if d.ok:
            entry.state, entry.delivered_at = DELIVERED, now
            told: Told = (lane.receiver, lane.integration, entry.notice.group_key)
            if lane.send_resolved and entry.notice.status is AlertStatus.FIRING:
                lane.told[entry.notice.group_key] = self._told_dirty[told] = entry.notice.key
            elif entry.notice.group_key in lane.told:
                del lane.told[entry.notice.group_key]
                self._told_dirty[told] = None
            self._report(entry, DELIVERED, now)
            self._finish(entry)
        elif d.retryable and not self.policy.retry.exhausted(entry.attempts, entry.first_attempt_at, now):
            entry.state = PENDING
            entry.next_at = now + self.policy.retry.delay(entry.attempts, self._rng)
            heapq.heappush(lane.ready, (entry.next_at, entry.id, entry))
            self._report(entry, "retrying", now)
        else:
            why = "not worth retrying" if not d.retryable else f"gave up after {entry.attempts} attempt(s)"
            entry.state, entry.last_error = DEAD, f"{why}: {d.detail}"
            log.warning("outbox: %s notice %s to %s is a dead letter (%s)", entry.notice.status.value,
                        entry.notice.key, lane.name, entry.last_error)
            self._report(entry, DEAD, now)
            self._finish(entry)

    def _report(self, entry: _Entry, state: str, now: float, detail: str | None = None) -> None:
        lane = entry.lane
        next_at = entry.next_at if state == "retrying" else None
        self._outcomes.append(_outcome(entry.notice, entry.id, lane.receiver, lane.integration, state,
                                       entry.attempts, entry.last_error if detail is None else detail,
                                       entry.status_code, next_at, now))

    async def _prune(self, now: float) -> None:
        self._next_prune = now + PRUNE_EVERY_S
        try:
            removed = await self._writer.call(self._store.outbox_prune, now - self.policy.keep_finished)
        except Exception:
            log.exception("outbox: pruning failed")
            return
        if removed:
            log.info("outbox: pruned %d finished notification(s)", removed)


def _lane_name(integration: str) -> str:
    """The dispatcher names an integration `webhook/0`, the outbox `webhook[0]` (Alertmanager's way)."""
    kind, _, index = integration.partition("/")
    return f"{kind}[{index}]" if index else integration


def _outcome(n: Notice | None, row_id: int, receiver: str, integration: str, state: str, attempts: int,
             detail: str, status_code: int | None, next_at: float | None, now: float) -> Outcome:
    key, group, status = (n.key, n.group_key, n.status.value) if n is not None else ("", "", "")
    services = sorted({a.service for a in n.alerts if a.service}) if n is not None else []
    return Outcome(now, row_id, key, receiver, integration, group, status, state, attempts, detail,
                   status_code, next_at, services)
