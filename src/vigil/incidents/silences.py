"""Silences, with Alertmanager's rules (silence/silence.go): matchers, a start, an end (always: a
silence is never forever, and at most `max_duration` long), who made it and why. A silence is
pending before its start, active until its end, then expired; expiring one ends it now. An active
silence mutes every alert its matchers all match.

The SilenceBook keeps every silence in memory for matching and writes each change to the store
(through the writer, never on the event loop), so silences survive a restart. Expired ones are
kept for `retention` (Alertmanager's 120h default) and then forgotten."""

from __future__ import annotations

import asyncio
import builtins
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from vigil.incidents.matchers import Matcher, MatcherError, parse_matchers
from vigil.model import Alert
from vigil.pipeline import Offload

MAX_DURATION_S = 30 * 86400.0
RETENTION_S = 120 * 3600.0
MAX_MATCHERS = 64
MAX_TEXT = 4096


class SilenceError(ValueError):
    """A silence that cannot be created or changed; the message says what to fix."""


class SilenceNotFound(KeyError):
    pass


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    updated_at: float

    def state(self, now: float) -> str:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: dict[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)


class SilenceStore(Protocol):
    """The store's face for silences (vigil.store.Store implements it)."""

    def write_silence(self, silence: Silence) -> None: ...

    def silences(self) -> list[Silence]: ...

    def delete_silences(self, ids: Sequence[str]) -> None: ...


@dataclass(slots=True)
class SilenceChange:
    """A silence that changed state on the tick (pending -> active, active -> expired)."""

    silence: Silence
    state: str


class SilenceBook:
    """Silences: create, list, get, expire (for the API), `mutes` for the dispatcher, `tick` for the
    loop. Times are engine time (epoch seconds) passed in."""

    reason = "silence"

    def __init__(self, store: SilenceStore | None, writer: Offload | None,
                 max_duration: float = MAX_DURATION_S, retention: float = RETENTION_S) -> None:
        self.store, self.writer = store, writer
        self.max_duration, self.retention = max_duration, retention
        self._by_id: dict[str, Silence] = {}
        self._states: dict[str, str] = {}  # as of the last tick
        self._loaded = False
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        """Read the stored silences once (before the first pass)."""
        async with self._lock:
            if self._loaded:
                return
            if self.store is not None and self.writer is not None:
                for s in await self.writer.call(self.store.silences):
                    self._by_id[s.id] = s
            self._loaded = True

    # ---------------------------------------------------------------------------------- the API

    async def create(self, matchers: str | Iterable[Matcher | dict], starts_at: float, ends_at: float | None,
                     created_by: str, comment: str, now: float) -> Silence:
        """A new silence. Matchers as `{a="b", c=~"d"}`, Matcher objects, or API v2 matcher dicts
        ({name, value, isRegex, isEqual}). A start in the past means now."""
        ms = _matchers(matchers)
        created_by = _text("created_by", created_by, "say who creates the silence")
        comment = _text("comment", comment, "say why (a ticket, a maintenance)")
        start = max(float(starts_at), now)
        if ends_at is None:
            raise SilenceError("a silence needs an end time (ends_at): no silence lasts forever")
        end = float(ends_at)
        if end <= now:
            raise SilenceError("ends_at is in the past: this silence would already be expired")
        if end < start:
            raise SilenceError("ends_at is before starts_at: a silence must end after it starts")
        if end - start > self.max_duration:
            raise SilenceError(f"this silence would last {_days(end - start)}; at most "
                               f"{_days(self.max_duration)} is allowed (alerting.silences.max_duration): "
                               "create a shorter one and renew it")
        silence = Silence(str(uuid.uuid4()), ms, start, end, created_by, comment, now)
        await self._save(silence)
        return silence

    async def expire(self, silence_id: str, now: float) -> Silence:
        """End a silence now (a pending one never starts). Expiring an expired one is an error."""
        s = self.get(silence_id)
        if s.state(now) == "expired":
            raise SilenceError(f"silence {silence_id} is already expired")
        ended = replace(s, starts_at=min(s.starts_at, now), ends_at=now, updated_at=now)
        await self._save(ended)
        return ended

    def get(self, silence_id: str) -> Silence:
        try:
            return self._by_id[silence_id]
        except KeyError:
            raise SilenceNotFound(silence_id) from None

    def list(self, now: float, state: str | None = None,
             matching: dict[str, str] | None = None) -> list[Silence]:
        """Silences, newest first; `state` pending | active | expired; `matching`: only those that
        would mute an alert with these labels."""
        out = [s for s in self._by_id.values()
               if (state is None or s.state(now) == state) and (matching is None or s.matches(matching))]
        return sorted(out, key=lambda s: (s.updated_at, s.id), reverse=True)

    # ---------------------------------------------------------------------------------- the loop

    def mutes(self, alert: Alert, now: float) -> bool:
        return any(s.active(now) and s.matches(alert.labels) for s in self._by_id.values())

    def silenced_by(self, labels: dict[str, str], now: float) -> builtins.list[str]:
        return [s.id for s in self._by_id.values() if s.active(now) and s.matches(labels)]

    async def tick(self, now: float) -> builtins.list[SilenceChange]:
        """State changes since the last tick (for events), and forget silences expired longer ago
        than the retention."""
        changes = []
        for s in self._by_id.values():
            st = s.state(now)
            if self._states.get(s.id) != st:
                if s.id in self._states or st != "pending":
                    changes.append(SilenceChange(s, st))
                self._states[s.id] = st
        old = [s.id for s in self._by_id.values() if s.ends_at + self.retention < now]
        if old:
            for sid in old:
                del self._by_id[sid]
                self._states.pop(sid, None)
            if self.store is not None and self.writer is not None:
                await self.writer.call(self.store.delete_silences, old)
        return changes

    async def _save(self, silence: Silence) -> None:
        if self.store is not None and self.writer is not None:
            await self.writer.call(self.store.write_silence, silence)  # stored first: then it counts
        self._by_id[silence.id] = silence


def _matchers(given: str | Iterable[Matcher | dict]) -> tuple[Matcher, ...]:
    try:
        if isinstance(given, str):
            ms = parse_matchers(given)
        else:
            ms = [m if isinstance(m, Matcher) else Matcher.from_dict(m) for m in given]
    except (MatcherError, KeyError, TypeError) as exc:
        raise SilenceError(f"invalid matchers: {exc}") from None
    if not ms:
        raise SilenceError("a silence needs at least one matcher, e.g. alertname=\"DiskFull\"")
    if len(ms) > MAX_MATCHERS:
        raise SilenceError(f"a silence has at most {MAX_MATCHERS} matchers; got {len(ms)}")
    if all(m.matches_value("") for m in ms):
        raise SilenceError("at least one matcher must not match the empty string, or the silence would "
                           "mute every alert")
    return tuple(ms)


def _text(name: str, value: str, hint: str) -> str:
    value = (value or "").strip()
    if not value:
        raise SilenceError(f"{name} is required: {hint}")
    if len(value) > MAX_TEXT:
        raise SilenceError(f"{name} is {len(value)} characters long; at most {MAX_TEXT}")
    return value


def _days(seconds: float) -> str:
    return f"{seconds / 86400:g} days" if seconds >= 86400 else f"{seconds / 3600:g} hours"
