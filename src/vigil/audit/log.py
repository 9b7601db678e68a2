"""AuditLog: what vigil and the people using it did, and why, appended to the store's hash chain.

`append` never blocks the event loop: on the loop it queues the entry and hands the queue to the
engine's store writer (one write transaction for whatever is queued by then); from any other thread it
waits for the writer itself. Entries the store refused stay queued and go with the next write, so a
store outage delays audit records and does not lose them while vigil runs. Inputs, results and
reasons are masked (credentials in URLs, secret query parameters, the configuration's secrets, and
the values of secret-named keys) before they are stored."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import SecretStr

from vigil.audit.chain import AuditRecord, plain
from vigil.clock import Clock
from vigil.config.redact import MASK, mask
from vigil.pipeline import Offload

log = logging.getLogger("vigil.audit")

# Values under keys with these words in their names are never stored, whatever they look like.
_SECRET_KEYS = ("password", "passwd", "secret", "token", "api_key", "apikey", "authorization", "credential",
                "private_key")
MAX_TEXT = 8192  # a longer string in an entry is cut (with a note): the log is for decisions, not dumps


def masked(value: Any, secrets: Iterable[str] = ()) -> Any:
    """`value` with secrets masked, recursively (dict keys are kept, values of secret-named keys
    replaced)."""
    known = tuple(secrets)

    def walk(v: Any, key: str = "") -> Any:
        if key and any(word in key.lower() for word in _SECRET_KEYS):
            return MASK if v not in (None, "") else v
        if isinstance(v, SecretStr):
            return MASK
        if isinstance(v, str):
            v = v if len(v) <= MAX_TEXT else v[:MAX_TEXT] + f"... ({len(v) - MAX_TEXT} more characters)"
            return mask(v, known)
        if isinstance(v, Mapping):
            return {str(k): walk(x, str(k)) for k, x in v.items()}
        if isinstance(v, (list, tuple, set, frozenset)):
            return [walk(x) for x in v]
        return v

    return walk(value)


class AuditLog:
    def __init__(self, store: Any, writer: Offload, clock: Clock, secrets: Iterable[str] = ()) -> None:
        self.store = store
        self.writer = writer
        self.clock = clock
        self.secrets = frozenset(secrets)
        self._queued: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._write: asyncio.Task[None] | None = None
        self.written = 0
        self.failures = 0

    def append(self, actor: str, action: str, reason: Any, inputs: Any, result: Any, duration_s: float,
               incident: int | None = None, service: str | None = None) -> asyncio.Future[None] | None:
        """Record one decision or action. `actor` is who or what: engine, rule:NAME, key:NAME,
        user:NAME; `reason` why (a sentence, or {"incident": .., "signal": .., "rule": ..}); `inputs`
        and `result` anything JSON-like. On the event loop it returns a task that ends once the queue
        was handed to the store (awaiting it is optional; `queued` > 0 afterwards means the store
        refused and the records wait for the next write); elsewhere it returns after the write."""
        entry = {"ts": float(self.clock.now()), "actor": str(actor), "action": str(action),
                 "reason": plain(masked(reason, self.secrets)), "inputs": plain(masked(inputs, self.secrets)),
                 "result": plain(masked(result, self.secrets)), "duration_s": round(float(duration_s), 6),
                 "incident": int(incident) if incident is not None else None,
                 "service": str(service) if service is not None else None}
        with self._lock:
            self._queued.append(entry)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # another thread: wait for the writer here (never on the loop's thread)
            try:
                if threading.current_thread().name.startswith("vigil-writer"):
                    self._drain()  # already on the writer (a write that audits): waiting for it would deadlock
                else:
                    self.writer.call_blocking(self._drain)
            except Exception:
                log.exception("audit: the store did not take the record; it stays queued")
            return None
        return self._schedule(loop)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> asyncio.Task[None]:
        if self._write is None or self._write.done():
            self._write = loop.create_task(self._write_queued())
        return self._write

    async def _write_queued(self) -> None:
        await asyncio.sleep(0)  # let entries appended in the same moment join one transaction
        try:
            while self._queued:
                await self.writer.call(self._drain)
        except Exception:  # kept queued: the next append or flush() tries again
            log.exception("audit: the store did not take %d records; they stay queued", len(self._queued))

    def _drain(self) -> int:
        """On the writer's thread: everything queued, in one transaction (put back if it fails)."""
        with self._lock:
            batch = list(self._queued)
            self._queued.clear()
        if not batch:
            return 0
        try:
            self.store.audit_append(batch)
        except Exception:
            self.failures += 1
            with self._lock:
                self._queued.extendleft(reversed(batch))
            raise
        self.written += len(batch)
        return len(batch)

    @property
    def queued(self) -> int:
        return len(self._queued)

    async def flush(self) -> None:
        """Wait until everything appended so far is stored (raises if the store refuses it)."""
        if self._write is not None and not self._write.done():
            await asyncio.gather(self._write, return_exceptions=True)
        while self._queued:
            await self.writer.call(self._drain)

    def records(self, actor: str | None = None, action: str | None = None, service: str | None = None,
                incident: int | None = None, since: float | None = None, until: float | None = None,
                text: str | None = None, before_id: int | None = None, limit: int = 100) -> list[AuditRecord]:
        """Stored records, newest first (a blocking read: call it from a worker or a plain route)."""
        return list(self.store.audit_records(actor=actor, action=action, service=service, incident=incident,
                                             since=since, until=until, text=text, before_id=before_id,
                                             limit=limit))
