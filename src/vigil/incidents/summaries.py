"""Summaries are written beside the pass, never in it: the incidents stage hands over the incidents
that changed, and at most one job runs at a time (the evidence read and the offline summary on the
worker, the optional LLM rewrite as I/O on the loop, a few at once); the pass after it finished takes
the texts in. An incident that changed is summarised again at most every `every`; an open one is
re-read every `refresh` (scaling, notifications and health changes since), and its summary only
changes, and the LLM is only asked, when the offline text did."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vigil.config import VigilConfig
from vigil.config.redact import secret_values
from vigil.incidents.facts import Facts, FactStore, SharedReads, gather, snapshot
from vigil.incidents.llm import LlmRewriter, Redaction
from vigil.incidents.model import Incident
from vigil.incidents.summary import clip, compose, hms
from vigil.pipeline import Offload

log = logging.getLogger("vigil.incidents.summary")

MAX_PER_JOB = 20  # incidents summarised by one job; the rest wait for the next
LLM_AT_ONCE = 4
SCAN_EVERY_S = 10.0  # open incidents are looked over for a refresh this often
MAX_FACTS = 40


@dataclass(frozen=True, slots=True)
class Written:
    incident: int
    text: str
    offline: str
    by_llm: bool | None  # None: no LLM configured


def facts_of(ev: Facts) -> list[str]:
    """The evidence an LLM may use beside the offline summary (redacted before it leaves)."""
    inc = ev.incident
    out = [
        f"alert {m.alertname} on {m.service or '?'} [{m.severity}] {'firing' if m.firing else 'resolved'}: "
        f"{clip(m.summary)}"
        for m in sorted(inc.members.values(), key=lambda m: m.joined_at)[:20]
    ]
    out += [
        f"suspect {c.get('service')}: {clip(str(c.get('why', '')))}"
        for c in inc.root_causes[:3]
        if isinstance(c, dict)
    ]
    out += [f"{hms(e.ts)} {e.kind}: {clip(e.message)}" for e in ev.timeline[-15:]]
    return out[:MAX_FACTS]


class Summaries:
    def __init__(self, config: VigilConfig, store: FactStore, worker: Offload) -> None:
        cfg = config.incidents.summary
        self.enabled, self.every, self.refresh, self.lookback = (
            cfg.enabled,
            cfg.every,
            cfg.refresh,
            cfg.lookback,
        )
        self.store, self.worker = store, worker
        self.llm = LlmRewriter(cfg.llm, secret_values(config)) if cfg.llm is not None else None
        # a summary never shows a secret of the config (an alert's text may quote one), LLM or not
        self.redact = self.llm.redact if self.llm is not None else Redaction(secret_values(config))
        self._changed: dict[int, float] = {}  # incident -> when it changed, not summarised since
        self._last: dict[int, float] = {}  # incident -> when its last summary was started
        self._offline: dict[int, str] = {}  # incident -> the offline text its summary was made from
        self._job: asyncio.Future[list[Written]] | None = None
        self._done: list[Written] = []
        self._scanned = float("-inf")
        self.written = self.by_llm = self.fallbacks = 0

    # ------------------------------------------------------------------------------ in the pass

    def changed(self, incidents: Iterable[Incident], now: float) -> None:
        for inc in incidents:
            self._changed.setdefault(inc.id, now)

    def take(self) -> list[Written]:
        """What the finished job wrote (nothing while it runs)."""
        if self._job is not None and self._job.done():
            job, self._job = self._job, None
            self._done += job.result()  # the job catches its own failures
        out, self._done = self._done, []
        for w in out:
            if w.by_llm is not False:  # a fallback is tried again at the next change or refresh
                self._offline[w.incident] = w.offline
        return out

    def start(self, known: Mapping[int, Incident], now: float) -> None:
        """Start a job for the incidents that are due, unless one is running."""
        if self._job is not None:
            return
        due = self._due(known, now)
        if not due:
            return
        for inc in due:
            self._last[inc.id] = now
            self._changed.pop(inc.id, None)
        self._job = asyncio.ensure_future(self._write([snapshot(i) for i in due], now))

    async def idle(self) -> None:
        """Wait for the job under way (tests, and a stop that wants the last summaries)."""
        if self._job is not None:
            await asyncio.wait([self._job])

    def _due(self, known: Mapping[int, Incident], now: float) -> list[Incident]:
        picked: dict[int, Incident] = {}
        for inc_id in list(self._changed):
            inc = known.get(inc_id)
            if inc is None:
                del self._changed[inc_id]
            elif now - self._last.get(inc_id, float("-inf")) >= self.every:
                picked[inc_id] = inc
        if now - self._scanned >= SCAN_EVERY_S:
            self._scanned = now
            for inc in known.values():  # one loaded at start is due at once: its summary may predate its end
                last = self._last.get(inc.id)
                if last is None or (inc.open and now - last >= self.refresh):
                    picked.setdefault(inc.id, inc)
            for gone in [i for i in self._last if i not in known]:
                self._last.pop(gone, None)
                self._offline.pop(gone, None)
        ordered = sorted(
            picked.values(), key=lambda i: (i.id not in self._changed, self._last.get(i.id, 0.0))
        )
        return ordered[:MAX_PER_JOB]

    # ------------------------------------------------------------------------------ beside the pass

    async def _write(self, incidents: list[Incident], now: float) -> list[Written]:
        try:
            drafts = await self.worker.call(self._drafts, incidents, now)
        except Exception:
            log.exception("incident summaries could not be written; the next change or refresh tries again")
            return []
        self.written += len(drafts)
        if self.llm is None:
            return [Written(i, text, text, None) for i, text, _ in drafts if text != self._offline.get(i)]
        gate = asyncio.Semaphore(LLM_AT_ONCE)

        async def rewrite(incident: int, offline: str, facts: list[str]) -> Written:
            assert self.llm is not None
            async with gate:
                r = await self.llm.rewrite(offline, facts, incident)
            return Written(incident, r.text, offline, r.by_llm)

        try:
            out = await asyncio.gather(
                *(rewrite(i, text, facts) for i, text, facts in drafts if text != self._offline.get(i))
            )
        except Exception:  # the rewriter falls back by itself; this is a bug, not an outage
            log.exception("summary rewrite failed; the offline summaries are used")
            out = [Written(i, text, text, False) for i, text, _ in drafts]
        self.by_llm += sum(1 for w in out if w.by_llm)
        self.fallbacks += sum(1 for w in out if w.by_llm is False)
        return list(out)

    def _drafts(self, incidents: list[Incident], now: float) -> list[tuple[int, str, list[str]]]:
        """On the worker: read each incident's evidence and write its offline summary."""
        out = []
        reads = SharedReads(self.store, min(i.opened_at for i in incidents) - self.lookback, now)
        for inc in incidents:
            try:
                ev = gather(self.store, inc, now, self.lookback, reads)
                out.append((inc.id, self.redact(compose(ev)), facts_of(ev) if self.llm is not None else []))
            except Exception:  # one incident must not keep the others from their summaries
                log.exception("the summary of incident %d could not be written", inc.id)
        return out
