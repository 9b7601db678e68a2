"""Flapping alerts: one that keeps firing and resolving is one problem, not a string of incidents.

Each alert's state changes are counted over a sliding window (as Nagios counts a check's state
changes). With `changes` or more in the window the alert is flapping; it stops flapping once a
whole window passes with no change. The incidents stage holds an incident with a flapping alert
open until then, so it neither resolves nor reopens, and pages, with every change."""

from __future__ import annotations

from collections import deque


class FlapTracker:
    def __init__(self, window: float, changes: int) -> None:
        self.window, self.changes = window, changes
        self._seen: dict[str, deque[float]] = {}  # fingerprint -> times of its state changes, in the window
        self.flapping: dict[str, float] = {}  # fingerprint -> when it began flapping

    def changed(self, fingerprint: str, now: float) -> bool:
        """Count a state change; True when this change makes the alert flapping."""
        times = self._seen.setdefault(fingerprint, deque())
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.changes and fingerprint not in self.flapping:
            self.flapping[fingerprint] = now
            return True
        return False

    def count(self, fingerprint: str) -> int:
        return len(self._seen.get(fingerprint, ()))

    def quiet_since(self, fingerprint: str) -> float | None:
        times = self._seen.get(fingerprint)
        return times[-1] if times else None

    def settle(self, now: float) -> list[str]:
        """Alerts quiet for a whole window stop flapping (and are forgotten): -> the ones that stopped."""
        stopped = [fp for fp in self.flapping if (self.quiet_since(fp) or now) <= now - self.window]
        for fp in stopped:
            del self.flapping[fp]
        for fp in [fp for fp, t in self._seen.items() if not t or t[-1] <= now - self.window]:
            del self._seen[fp]
        return stopped
