"""What the rules stage must not forget across a restart, as one versioned blob per service.

Per rule: its open episodes (so a condition that still holds after a restart does not fire again, and
one that ended meanwhile is resolved) and its running `for:` timers (so a `for: 5m` keeps its start).
Rules are named by a fingerprint of their configuration: a rule removed or changed since the save
finds no match and its state is dropped, with a log line. A blob of another version, or unreadable,
is ignored the same way: the worst case is the behaviour without persistence, never a crash."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from vigil.model import Severity

log = logging.getLogger("vigil.rules")

VERSION = 1
MAX_ENTRIES = 2_000  # per service, episodes and timers each: the newest are kept


def state_key(service: str) -> str:
    return f"rules:{service}"


def rule_ids(rules: list[Any]) -> list[str]:
    """A stable name per rule of one service: its title and a hash of its whole configuration (a
    rule repeated word for word gets `#2`, `#3`)."""
    seen: Counter[str] = Counter()
    ids = []
    for rule in rules:
        text = orjson.dumps(rule.model_dump(mode="json", by_alias=True), option=orjson.OPT_SORT_KEYS)
        rid = f"{rule.title()}@{hashlib.sha256(text).hexdigest()[:12]}"
        seen[rid] += 1
        ids.append(rid if seen[rid] == 1 else f"{rid}#{seen[rid]}")
    return ids


@dataclass
class RuleState:
    """One rule's memory: open episodes {part: the firing signal's ts, series, kind, source,
    severity} and pending `for:` timers {series: (start, last sample)}."""

    episodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    timers: dict[str, tuple[float, float]] = field(default_factory=dict)


def encode(service: str, saved_at: float, rules: dict[str, RuleState]) -> bytes:
    _bound(service, rules)
    return orjson.dumps({
        "version": VERSION, "service": service, "saved_at": saved_at,
        "rules": {rid: {"episodes": st.episodes, "timers": st.timers}
                  for rid, st in rules.items() if st.episodes or st.timers}})


def decode(service: str, blob: bytes) -> tuple[float, dict[str, RuleState]] | None:
    """(saved_at, {rule id: state}), or None (logged) for a blob this version cannot read."""
    try:
        data = orjson.loads(blob)
        if not isinstance(data, dict) or data.get("version") != VERSION:
            found = data.get("version") if isinstance(data, dict) else None
            log.warning("rule state of %s has format version %r, not %d: ignored, rules start afresh",
                        service, found, VERSION)
            return None
        rules = {rid: RuleState({str(p): _episode(e) for p, e in r["episodes"].items()},
                                {str(k): (float(a), float(b)) for k, (a, b) in r["timers"].items()})
                 for rid, r in data["rules"].items()}
        return float(data["saved_at"]), rules
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        log.warning("rule state of %s could not be read: ignored, rules start afresh", service)
        return None


def _episode(e: dict[str, Any]) -> dict[str, Any]:
    """An episode as saved, checked: a missing key or a bad value raises (the blob is then ignored)."""
    return {"ts": float(e["ts"]), "series": str(e["series"]), "kind": str(e["kind"]), "source": str(e["source"]),
            "severity": Severity(e["severity"]).value}


def _bound(service: str, rules: dict[str, RuleState]) -> None:
    """Keep the newest MAX_ENTRIES episodes and timers of the service (a selector matching thousands
    of series must not make a blob without limit)."""
    episodes = sorted(((e["ts"], rid, part) for rid, st in rules.items() for part, e in st.episodes.items()),
                      reverse=True)
    timers = sorted(((t[0], rid, series) for rid, st in rules.items() for series, t in st.timers.items()),
                    reverse=True)
    if len(episodes) > MAX_ENTRIES or len(timers) > MAX_ENTRIES:
        log.warning("rule state of %s: %d open episodes and %d timers, saving the newest %d of each",
                    service, len(episodes), len(timers), MAX_ENTRIES)
    for _, rid, part in episodes[MAX_ENTRIES:]:
        del rules[rid].episodes[part]
    for _, rid, series in timers[MAX_ENTRIES:]:
        del rules[rid].timers[series]
