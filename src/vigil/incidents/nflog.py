"""The notification log: what each integration of each receiver was last told about each group,
as Alertmanager's nflog keeps it. The dispatcher asks it whether a group needs a notification
(Alertmanager's DedupStage) and records every notification it hands on.

It is the dispatcher's memory across restarts and reloads: saved as a state blob, a restart does
not re-send what was sent, and a reload (which rebuilds every group, as Alertmanager's does) only
sends what changed."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

EntryKey = tuple[str, str, str]  # group key, receiver, integration ("webhook/0")


@dataclass(slots=True)
class Entry:
    firing: frozenset[str]  # fingerprints
    resolved: frozenset[str]
    at: float  # when it was sent
    expires_at: float  # 2 x repeat_interval later, as in Alertmanager
    count: int  # notifications sent for this key so far


def needs_update(entry: Entry | None, firing: frozenset[str], resolved: frozenset[str], send_resolved: bool,
                 repeat_interval: float, now: float) -> bool:
    """Alertmanager's DedupStage.needsUpdate."""
    if entry is None:
        return bool(firing)  # never notified: only if something fires
    if not firing <= entry.firing:
        return True  # something new fires
    if not firing:
        # All resolved: tell whoever was told it fired (send_resolved or not, so the log is cleared).
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    return entry.at < now - repeat_interval


class NotificationLog:
    def __init__(self) -> None:
        self._entries: dict[EntryKey, Entry] = {}
        self.changed = False  # since the last save

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: EntryKey) -> Entry | None:
        return self._entries.get(key)

    def log(self, key: EntryKey, firing: frozenset[str], resolved: frozenset[str], now: float,
            repeat_interval: float) -> Entry:
        old = self._entries.get(key)
        entry = Entry(firing, resolved, now, now + 2 * repeat_interval, (old.count if old else 0) + 1)
        self._entries[key] = entry
        self.changed = True
        return entry

    def gc(self, now: float, live: set[str] | frozenset[str] = frozenset()) -> int:
        """Forget expired entries. An entry of a live group that still holds firing alerts is kept
        past its expiry (Alertmanager would forget it at its next GC): whoever was told an alert
        fired is told it resolved, however long a mute lasted."""
        gone = [k for k, e in self._entries.items()
                if e.expires_at < now and not (e.firing and k[0] in live)]
        for k in gone:
            del self._entries[k]
        self.changed |= bool(gone)
        return len(gone)

    def to_bytes(self) -> bytes:
        self.changed = False
        return orjson.dumps([[*k, sorted(e.firing), sorted(e.resolved), e.at, e.expires_at, e.count]
                             for k, e in self._entries.items()])

    @classmethod
    def from_bytes(cls, blob: bytes) -> "NotificationLog":
        log = cls()
        for g, r, i, firing, resolved, at, exp, count in orjson.loads(blob):
            log._entries[(g, r, i)] = Entry(frozenset(firing), frozenset(resolved), at, exp, count)
        return log
