"""Inhibition (`inhibit_rules`), as Alertmanager's inhibit/inhibit.go: a firing alert matching a
rule's source matchers mutes every alert matching its target matchers that has the same values for
the `equal` labels (a missing label counts as empty, so two alerts both without it are equal). An
alert matching both sides is never muted by an alert that also matches both sides: it cannot mute
itself, nor its peers.

Sources are indexed per rule by their `equal` values, so a check costs a dict lookup (not a scan
of every firing alert). Beside the rules, vigil's own inhibitions plug in as `InhibitionHook`s
(e.g. the lead's "a service whose dependency has a firing root-cause alert"): each is asked after
the rules, with the alert and the time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from vigil.incidents.matchers import Matcher, from_match, matches_all, parse_matcher_lines
from vigil.model import Alert, AlertStatus


class InhibitionHook(Protocol):
    """An extra inhibition: True when `alert` should not be notified now (it is still grouped,
    recorded and shown, as an inhibited alert is in Alertmanager)."""

    def __call__(self, alert: Alert, now: float) -> bool: ...


@dataclass(eq=False)
class InhibitRule:
    source: list[Matcher]
    target: list[Matcher]
    equal: tuple[str, ...]
    # equal-label values -> fingerprints of firing sources; and those that also match the target
    _sources: dict[tuple[str, ...], dict[str, Alert]] = field(default_factory=dict)
    _two_sided: dict[tuple[str, ...], set[str]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, c: Mapping[str, Any] | Any) -> "InhibitRule":
        d = c if isinstance(c, Mapping) else c.model_dump(exclude_unset=True)
        source = from_match(d.get("source_match"), d.get("source_match_re")) + \
            parse_matcher_lines(d.get("source_matchers") or [])
        target = from_match(d.get("target_match"), d.get("target_match_re")) + \
            parse_matcher_lines(d.get("target_matchers") or [])
        return cls(source, target, tuple(d.get("equal") or ()))

    def _key(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(labels.get(n, "") for n in self.equal)

    def observe(self, alert: Alert) -> None:
        key = self._key(alert.labels)
        fp = alert.fingerprint
        if alert.status is AlertStatus.FIRING and matches_all(self.source, alert.labels):
            self._sources.setdefault(key, {})[fp] = alert
            if matches_all(self.target, alert.labels):
                self._two_sided.setdefault(key, set()).add(fp)
            return
        bucket = self._sources.get(key)
        if bucket is not None and bucket.pop(fp, None) is not None:
            if not bucket:
                del self._sources[key]
            both = self._two_sided.get(key)
            if both is not None:
                both.discard(fp)
                if not both:
                    del self._two_sided[key]

    def inhibits(self, alert: Alert, now: float) -> bool:
        if not matches_all(self.target, alert.labels):
            return False
        key = self._key(alert.labels)
        bucket = self._sources.get(key)
        if not bucket:
            return False
        skip = self._two_sided.get(key, set()) if matches_all(self.source, alert.labels) else set()
        for fp, source in bucket.items():
            if fp in skip:
                continue
            if source.ends_at is None or source.ends_at > now:  # a source past its end time is over
                return True
        return False


class Inhibitor:
    """The dispatcher's muter for inhibition: feed it every alert change (`observe`), ask `mutes`."""

    reason = "inhibition"

    def __init__(self, rules: Sequence[InhibitRule] = (), hooks: Sequence[InhibitionHook] = ()) -> None:
        self.rules = list(rules)
        self.hooks = list(hooks)
        self._firing: dict[str, Alert] = {}  # every firing alert, to index new rules on reload

    @classmethod
    def from_config(cls, rules: Iterable[Any], hooks: Sequence[InhibitionHook] = ()) -> "Inhibitor":
        return cls([InhibitRule.from_config(r) for r in rules], hooks)

    def plug(self, hook: InhibitionHook) -> None:
        """Add an inhibition of vigil's own (e.g. by dependency); asked after the rules."""
        self.hooks.append(hook)

    def observe(self, alert: Alert) -> None:
        if alert.status is AlertStatus.FIRING:
            self._firing[alert.fingerprint] = alert
        else:
            self._firing.pop(alert.fingerprint, None)
        for r in self.rules:
            r.observe(alert)

    def observe_many(self, alerts: Iterable[Alert]) -> None:
        for a in alerts:
            self.observe(a)

    def mutes(self, alert: Alert, now: float) -> bool:
        for r in self.rules:
            if r.inhibits(alert, now):
                return True
        return any(h(alert, now) for h in self.hooks)

    def reload(self, rules: Sequence[InhibitRule]) -> None:
        """New rules, indexed from the alerts firing now; plugged hooks stay."""
        self.rules = list(rules)
        for r in self.rules:
            for a in self._firing.values():
                r.observe(a)
