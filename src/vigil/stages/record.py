"""The record stage, last in the loop: writes what the pass concluded (signals, alerts, decisions,
events, then the state blobs that depend on them) in one place, and logs each event line: at most
`MAX_LOGGED` of one pass, then one line counting the rest (a burst of thousands of alerts would
otherwise cost more in log formatting than in handling them; every event is in the event log)."""

from __future__ import annotations

import logging

from vigil.pipeline import Batch, Offload
from vigil.store.faces import RecordLog

log = logging.getLogger("vigil.engine")

MAX_LOGGED = 20  # event lines logged per pass


class RecordStage:
    name = "record"

    def __init__(self, store: RecordLog, writer: Offload) -> None:
        self.store, self.writer = store, writer

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def run(self, batch: Batch) -> None:
        if batch.signals:
            await self.writer.call(self.store.write_signals, batch.signals)
        if batch.alerts or batch.alerts_refreshed:
            await self.writer.call(self.store.write_alerts, batch.alerts_refreshed + batch.alerts, batch.now)
        if batch.incidents or batch.members or batch.timeline:
            await self.writer.call(self.store.write_incidents, batch.incidents, batch.members, batch.timeline)
        if batch.decisions:
            await self.writer.call(self.store.write_decisions, batch.decisions)
        if batch.events:
            if log.isEnabledFor(logging.INFO):
                for e in batch.events[:MAX_LOGGED]:
                    log.info("%s", e.message)
                if len(batch.events) > MAX_LOGGED:
                    kinds: dict[str, int] = {}
                    for e in batch.events[MAX_LOGGED:]:
                        kinds[e.kind] = kinds.get(e.kind, 0) + 1
                    log.info("... and %d more events in this pass (%s): see the event log",
                             len(batch.events) - MAX_LOGGED, ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
            await self.writer.call(self.store.append_events, batch.events)
        for key, blob in batch.state.items():
            await self.writer.call(self.store.save_state, key, blob)
