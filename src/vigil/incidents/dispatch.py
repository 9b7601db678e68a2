"""The dispatcher: alerts into aggregation groups, groups into notices, on Alertmanager's timing
(dispatch/dispatch.go and the notify pipeline of 0.25), driven only by the `now` it is given.

- `add(alert, now)` for every change of the alert stream: each route the alert matches puts it in
  the group of its group labels. A new group flushes `group_wait` after it was created (at once if
  the alert started longer ago than that, before the group's first flush), then every
  `group_interval`.
- `flush_due(now)` on every tick: each group due flushes. A flush takes the group's alerts (an alert
  is resolved at a flush when its status says so or its end time has passed), drops those muted
  (inhibition, silences, maintenance windows) and, for a route outside its active or inside its mute
  time intervals, all of them. It asks the notification log, per integration of the receiver,
  whether anything new fires, something resolved (for send_resolved), all resolved, or the
  repeat_interval passed; and hands on one Notice per group of integrations told alike. The resolved
  alerts of a flush then leave the group; an empty group is removed at the next maintenance
  (every 30 s, as in Alertmanager: an alert arriving before then joins it without a new group_wait).

Costs: `add` is a route match plus a dict and a heap operation; a flush is linear in its group."""

from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from vigil.incidents.nflog import NotificationLog, needs_update
from vigil.incidents.routing import Route
from vigil.incidents.timeintervals import TimeIntervals
from vigil.model import Alert, AlertStatus, Notice

log = logging.getLogger("vigil.dispatch")

GroupId = tuple[str, tuple[tuple[str, str], ...]]  # route id, sorted group labels
MAINTENANCE_S = 30.0  # Alertmanager's dispatcher maintenance period
DEFAULT_INTEGRATIONS = (("default", True),)  # a receiver without a known config: one, send_resolved


class Muter(Protocol):
    """Says whether an alert is muted now (an inhibition rule, a silence, a maintenance window).
    `reason` names it in the suppression counts: inhibition | silence | maintenance | ..."""

    reason: str

    def mutes(self, alert: Alert, now: float) -> bool: ...


@dataclass(eq=False)
class AggregationGroup:
    route: Route
    labels: dict[str, str]
    key: str  # Alertmanager's group key
    alerts: dict[str, Alert] = field(default_factory=dict)
    order: dict[str, tuple] = field(default_factory=dict)  # fingerprint -> Alertmanager's sort key
    next_flush: float = 0.0
    has_flushed: bool = False
    seq: int = 0  # the heap entry that is current

    @property
    def receiver(self) -> str:
        return self.route.opts.receiver


@dataclass(frozen=True, slots=True)
class GroupView:
    """A group as the API shows it (Alertmanager's /api/v2/alerts/groups)."""

    receiver: str
    group_key: str
    labels: dict[str, str]
    alerts: list[Alert]
    route_id: str


def resolved_at(alert: Alert, now: float) -> bool:
    return alert.status is AlertStatus.RESOLVED or (alert.ends_at is not None and alert.ends_at <= now)


def _as_of(alert: Alert, now: float) -> Alert:
    """The alert as a flush at `now` reports it: one whose end time passed reads resolved."""
    if alert.status is AlertStatus.FIRING and alert.ends_at is not None and alert.ends_at <= now:
        return replace(alert, status=AlertStatus.RESOLVED)
    return alert


def _same(a: Alert, b: Alert) -> bool:
    return (a.status is b.status and a.starts_at == b.starts_at and a.ends_at == b.ends_at
            and a.annotations == b.annotations and a.generator_url == b.generator_url)


def _sentinel_name(name: str) -> tuple[int, ...]:
    # Sorts names in reverse (with a prefix after its extensions): see _sort_key.
    return (*(-ord(c) for c in name), 1)


def _sort_key(labels: Mapping[str, str]) -> tuple:
    """Alertmanager's AlertSlice order: by `job`, then `instance` (an alert with the label first),
    then LabelSet.Before (fewer labels first; then, at the first label name the two differ in, the
    one that lacks the smaller name first; else by value)."""
    head: list[Any] = []
    for name in ("job", "instance"):
        v = labels.get(name)
        head += [0, v] if v is not None else [1, ""]
    body = tuple((_sentinel_name(k), labels[k]) for k in sorted(labels))
    return (*head, len(labels), body)


class Dispatcher:
    def __init__(self, route: Route, receivers: Mapping[str, Sequence[tuple[str, bool]]] | None = None,
                 muters: Sequence[Muter] = (), time_intervals: TimeIntervals | None = None,
                 max_groups: int = 0, nflog: NotificationLog | None = None) -> None:
        """`receivers`: receiver name -> its integrations as (id, send_resolved), e.g.
        (("webhook/0", True), ("slack/0", False)) (see `integrations_of`); None treats every receiver
        as one integration with send_resolved. A receiver with no integrations gets no notices
        (Alertmanager's "blackhole" receiver)."""
        self.route = route
        self.receivers = receivers
        self.muters = list(muters)
        self.time_intervals = time_intervals or TimeIntervals()
        self.max_groups = max_groups
        self.nflog = nflog or NotificationLog()
        self.suppressed: Counter[str] = Counter()  # alerts left out of flushes, by reason
        self.groups_refused = 0  # alerts not grouped because max_groups was reached
        self._groups: dict[GroupId, AggregationGroup] = {}
        self._heap: list[tuple[float, int, GroupId]] = []
        self._seq = itertools.count()
        self._next_maintenance: float | None = None

    # ------------------------------------------------------------------------------------ intake

    def add(self, alert: Alert, now: float) -> None:
        """One change of the alert stream (firing, resolved, or firing with new annotations)."""
        for route in self.route.match(alert.labels):
            self._insert(route, alert, now)

    def add_many(self, alerts: Iterable[Alert], now: float) -> None:
        for a in alerts:
            self.add(a, now)

    def _insert(self, route: Route, alert: Alert, now: float) -> None:
        labels = route.group_labels(alert.labels)
        gid = (route.id, tuple(sorted(labels.items())))
        group = self._groups.get(gid)
        if group is None:
            if self.max_groups and len(self._groups) >= self.max_groups:
                self.groups_refused += 1
                log.error("too many aggregation groups (%d): alert %s not grouped", len(self._groups),
                          alert.name)
                return
            group = AggregationGroup(route, labels, route.group_key(labels))
            self._groups[gid] = group
            self._schedule(gid, group, now + route.opts.group_wait)
        known = group.alerts.get(alert.fingerprint)
        if known is not None and _same(known, alert):
            return
        group.alerts[alert.fingerprint] = alert
        if known is None:
            group.order[alert.fingerprint] = _sort_key(alert.labels)
        # An alert older than group_wait needs no wait before the group's first flush.
        if not group.has_flushed and alert.starts_at + route.opts.group_wait < now and group.next_flush > now:
            self._schedule(gid, group, now)

    def _schedule(self, gid: GroupId, group: AggregationGroup, at: float) -> None:
        group.next_flush = at
        group.seq = next(self._seq)
        heapq.heappush(self._heap, (at, group.seq, gid))

    # ------------------------------------------------------------------------------------ output

    def next_due(self) -> float | None:
        """When the next group is due (stale heap entries may make this early, never late)."""
        return self._heap[0][0] if self._heap else None

    def flush_due(self, now: float) -> list[Notice]:
        """Flush every group that is due; the notices to hand on, in order."""
        out: list[Notice] = []
        while self._heap and self._heap[0][0] <= now:
            due, seq, gid = heapq.heappop(self._heap)
            group = self._groups.get(gid)
            if group is None or group.seq != seq:
                continue
            group.has_flushed = True
            interval = group.route.opts.group_interval
            nxt = due + interval
            self._schedule(gid, group, nxt if nxt > now else now + interval)
            out += self._flush(group, now)
        self._maintain(now)
        return out

    def _flush(self, group: AggregationGroup, now: float) -> list[Notice]:
        if not group.alerts:
            return []
        resolved = [fp for fp, a in group.alerts.items() if resolved_at(a, now)]
        try:
            return self._notices(group, now)
        finally:
            for fp in resolved:  # sent (or muted): they leave the group either way, as in Alertmanager
                a = group.alerts.get(fp)
                if a is not None and resolved_at(a, now):
                    del group.alerts[fp]
                    group.order.pop(fp, None)

    def _notices(self, group: AggregationGroup, now: float) -> list[Notice]:
        opts = group.route.opts
        visible = []
        for a in group.alerts.values():
            reason = self._muted_by(a, now)
            if reason is None:
                visible.append(a)
            else:
                self.suppressed[reason] += 1
        if not visible:
            return []
        if opts.active_time_intervals and not self.time_intervals.any_holds(opts.active_time_intervals, now):
            self.suppressed["active_time_interval"] += len(visible)
            return []
        if opts.mute_time_intervals and self.time_intervals.any_holds(opts.mute_time_intervals, now):
            self.suppressed["mute_time_interval"] += len(visible)
            return []
        firing = frozenset(a.fingerprint for a in visible if not resolved_at(a, now))
        resolved = frozenset(a.fingerprint for a in visible) - firing
        told: dict[bool, list[str]] = {True: [], False: []}
        for iid, send_resolved in self._integrations(group.receiver):
            entry = self.nflog.get((group.key, group.receiver, iid))
            if needs_update(entry, firing, resolved, send_resolved, opts.repeat_interval, now):
                told[send_resolved].append(iid)
        out = []
        for send_resolved, iids in told.items():
            if not iids:
                continue
            seq = self._count(group, iids[0])
            for iid in iids:
                self.nflog.log((group.key, group.receiver, iid), firing, resolved, now, opts.repeat_interval)
            sent = visible if send_resolved else [a for a in visible if a.fingerprint in firing]
            if not sent:
                continue  # all resolved, and these integrations do not say so: logged, not sent
            sent.sort(key=lambda a: group.order[a.fingerprint])
            out.append(Notice(
                key=_notice_key(group, iids, firing, resolved if send_resolved else frozenset(), seq),
                receiver=group.receiver, group_key=group.key,
                status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
                alerts=[_as_of(a, now) for a in sent], created_at=now, group_labels=dict(group.labels),
                integrations=tuple(iids)))
        return out

    def _count(self, group: AggregationGroup, iid: str) -> int:
        entry = self.nflog.get((group.key, group.receiver, iid))
        return 0 if entry is None else entry.count

    def _integrations(self, receiver: str) -> Sequence[tuple[str, bool]]:
        if self.receivers is None:
            return DEFAULT_INTEGRATIONS
        return self.receivers.get(receiver, ())

    def _muted_by(self, alert: Alert, now: float) -> str | None:
        for m in self.muters:
            if m.mutes(alert, now):
                return m.reason
        return None

    def _maintain(self, now: float) -> None:
        if self._next_maintenance is None:
            self._next_maintenance = now + MAINTENANCE_S
        if now < self._next_maintenance:
            return
        self._next_maintenance = now + MAINTENANCE_S
        for gid in [gid for gid, g in self._groups.items() if not g.alerts]:
            del self._groups[gid]
        self.nflog.gc(now, {g.key for g in self._groups.values()})
        if len(self._heap) > 4 * len(self._groups) + 64:  # drop stale entries now and then
            live = self._groups
            self._heap = [e for e in self._heap if (g := live.get(e[2])) is not None and g.seq == e[1]]
            heapq.heapify(self._heap)

    # ------------------------------------------------------------------------------- management

    def reload(self, route: Route, receivers: Mapping[str, Sequence[tuple[str, bool]]] | None,
               time_intervals: TimeIntervals | None, now: float) -> None:
        """A new configuration, as Alertmanager applies one: every group is rebuilt from the alerts
        it holds, with fresh timers (an alert older than group_wait flushes at once), and the
        notification log is kept, so a group whose route is unchanged tells nobody twice."""
        alerts: dict[str, Alert] = {}
        for g in self._groups.values():
            alerts.update(g.alerts)
        self.route, self.receivers = route, receivers
        self.time_intervals = time_intervals or TimeIntervals()
        self._groups.clear()
        self._heap.clear()
        for a in alerts.values():
            self.add(a, now)

    def groups(self) -> list[GroupView]:
        return [GroupView(g.receiver, g.key, dict(g.labels), sorted(g.alerts.values(),
                                                                    key=lambda a: g.order[a.fingerprint]),
                          g.route.id) for g in self._groups.values() if g.alerts]

    def alert_count(self) -> int:
        return sum(len(g.alerts) for g in self._groups.values())

    def save_state(self) -> bytes:
        """The notification log, to keep across a restart (`load_state`)."""
        return self.nflog.to_bytes()

    def load_state(self, blob: bytes) -> None:
        self.nflog = NotificationLog.from_bytes(blob)

    @property
    def state_changed(self) -> bool:
        return self.nflog.changed


def _notice_key(group: AggregationGroup, iids: Sequence[str], firing: frozenset[str],
                resolved: frozenset[str], seq: int) -> str:
    """Idempotency key: the same group, receiver, integrations and alert sets at the same point of
    the notification log give the same key (a re-send after a crash); a repeat does not."""
    h = hashlib.sha256()
    for part in (group.key, group.receiver, ",".join(iids), ",".join(sorted(firing)),
                 ",".join(sorted(resolved)), str(seq)):
        h.update(part.encode())
        h.update(b"\xff")
    return h.hexdigest()[:32]


def integrations_of(receivers: Iterable[Any]) -> dict[str, list[tuple[str, bool]]]:
    """config Receiver models -> {name: [("webhook/0", send_resolved), ...]} for the Dispatcher."""
    out: dict[str, list[tuple[str, bool]]] = {}
    for r in receivers:
        counts: Counter[str] = Counter()
        items = []
        for kind, integ in r.integrations():
            items.append((f"{kind}/{counts[kind]}", bool(integ.send_resolved)))
            counts[kind] += 1
        out[r.name] = items
    return out
