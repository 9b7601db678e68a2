"""The demo as plain lines, for a log (stdout not a terminal, e.g. `make demo | tee log`, or
--headless): where the API is and its key, every service's fault URL, at once; then one line per
notable event as it happens: health changes, scaling, and signals (at most one line per service
per tick, with a count of the rest, so a burst of signals stays readable)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vigil.config.redact import mask_url
from vigil.demo.view import DemoState, fault_lines
from vigil.model import Signal

SIGNAL_LINE_MAX = 200


def announcement(state: DemoState) -> list[str]:
    """What a person needs first: the API, its key, the store, and how to break each service."""
    return [f"vigil API {state.api_url} (docs {state.api_url}/docs)",
            f"API key {state.api_key} (send 'Authorization: Bearer <key>')",
            f"store {mask_url(state.store_url)}",
            "faults:", *fault_lines(state.admin_urls)]


def _value(severity: object) -> str:
    return str(getattr(severity, "value", severity))


@dataclass
class EventLines:
    """Remembers what it has already printed; `new()` returns the lines of what happened since."""

    transitions_seen: int = 0
    changes_seen: int = 0
    signals_since: float | None = None  # engine time of the newest signal printed
    _at_since: set[tuple[str, str, str]] = field(default_factory=set)  # signals at exactly that time

    def unseen(self, signals: list[Signal]) -> list[Signal]:
        """Signals not printed yet (the store is asked for those at or after the newest printed)."""
        fresh = [s for s in signals if self.signals_since is None or s.ts > self.signals_since
                 or (s.ts == self.signals_since and (s.service, s.series, s.source) not in self._at_since)]
        if fresh:
            newest = max(s.ts for s in fresh)
            if newest != self.signals_since:
                self.signals_since, self._at_since = newest, set()
            self._at_since |= {(s.service, s.series, s.source) for s in fresh if s.ts == newest}
        return sorted(fresh, key=lambda s: s.ts)

    def new(self, state: DemoState, signals: list[Signal]) -> list[str]:
        out = [str(t) for t in state.transitions[self.transitions_seen:]]
        out += [str(c) for c in state.replica_changes[self.changes_seen:]]
        self.transitions_seen, self.changes_seen = len(state.transitions), len(state.replica_changes)
        by_service: dict[str, list[Signal]] = {}
        for s in self.unseen(signals):
            by_service.setdefault(s.service, []).append(s)
        for service, group in by_service.items():
            first = group[0]
            line = (f"+{state.elapsed_s:5.1f}s  {service}: signal {first.kind} ({_value(first.severity)}) "
                    f"on {first.series}: {first.reason}")
            if len(line) > SIGNAL_LINE_MAX:
                line = line[:SIGNAL_LINE_MAX - 1] + "…"
            if len(group) > 1:
                line += f"  (and {len(group) - 1} more signal{'s' if len(group) > 2 else ''} for {service})"
            out.append(line)
        return out
