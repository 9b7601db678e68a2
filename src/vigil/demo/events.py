"""The demo as plain lines, for a log (stdout not a terminal, e.g. `make demo | tee log`, or
--headless): where the API is and its key, every service's fault URL, at once; then one line per
notable event as it happens: health changes, scaling, incidents opening and resolving, and alerts
firing and resolving (at most one line per service and kind per tick, with a count of the rest, so a
burst stays readable; a raw signal is not an event here: its alert is)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vigil.config.redact import mask_url
from vigil.demo.view import DemoState, fault_lines
from vigil.model import Event

LINE_MAX = 200
SHOWN = ("incident", "alert")  # event kinds a person follows, in this order within a tick


def announcement(state: DemoState) -> list[str]:
    """What a person needs first: the API, its key, the store, and how to break each service."""
    return [f"vigil API {state.api_url} (docs {state.api_url}/docs)",
            f"API key {state.api_key} (send 'Authorization: Bearer <key>')",
            f"store {mask_url(state.store_url)}",
            "faults:", *fault_lines(state.admin_urls, state.deploy_url)]


@dataclass
class EventLines:
    """Remembers what it has already printed; `new()` returns the lines of what happened since."""

    transitions_seen: int = 0
    changes_seen: int = 0
    events_since: float | None = None  # engine time of the newest event printed
    _at_since: set[tuple[str, str]] = field(default_factory=set)  # events at exactly that time

    def unseen(self, events: list[Event]) -> list[Event]:
        """Events not printed yet (the store is asked for those at or after the newest printed)."""
        fresh = [e for e in events if e.kind in SHOWN and (
            self.events_since is None or e.ts > self.events_since
            or (e.ts == self.events_since and (e.kind, e.message) not in self._at_since))]
        if fresh:
            newest = max(e.ts for e in fresh)
            if newest != self.events_since:
                self.events_since, self._at_since = newest, set()
            self._at_since |= {(e.kind, e.message) for e in fresh if e.ts == newest}
        return sorted(fresh, key=lambda e: (e.ts, SHOWN.index(e.kind)))

    def new(self, state: DemoState, events: list[Event]) -> list[str]:
        out = [str(t) for t in state.transitions[self.transitions_seen:]]
        out += [str(c) for c in state.replica_changes[self.changes_seen:]]
        self.transitions_seen, self.changes_seen = len(state.transitions), len(state.replica_changes)
        groups: dict[tuple[str, str, str], list[Event]] = {}
        for e in self.unseen(events):
            status = str(e.data.get("status", ""))
            groups.setdefault((e.kind, e.service or "-", status), []).append(e)
        for (kind, service, _), group in groups.items():
            line = f"+{state.elapsed_s:5.1f}s  {service}: {group[0].message}"
            if len(line) > LINE_MAX:
                line = line[:LINE_MAX - 1] + "…"
            if len(group) > 1:
                line += f"  (and {len(group) - 1} more {kind} line{'s' if len(group) > 2 else ''} for {service})"
            out.append(line)
        return out
