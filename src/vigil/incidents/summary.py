"""An incident's summary, written offline from its facts (`incidents.facts`): what is wrong,
since when, which services, the probable root cause and why, what vigil and people did, what changed
before it opened, and the past incident it looks like. One short line per point, each left out when
there is nothing to say; times in UTC. No relative time for an open incident ("for 5 minutes"): the
summary is rewritten when the incident changes, not as the clock moves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from vigil.config.types import format_duration
from vigil.incidents.facts import CHANGE_KINDS, Facts
from vigil.incidents.model import Incident, IncidentStatus, Member
from vigil.incidents.similar import Match
from vigil.model import Decision, Event
from vigil.notify.render import span

MAX_OTHERS = 4  # other alerts named in the first line
MAX_ACTIONS = 6  # things vigil did, named
MAX_CHANGES = 5
MAX_NOTES = 2
CLIP = 160  # characters of any one quoted text


def clip(s: str, n: int = CLIP) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def hms(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%H:%M:%S UTC")


def full_time(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(seconds: float) -> str:
    days = seconds / 86400
    if days >= 2:
        return f"{days:.0f} days ago"
    hours = seconds / 3600
    if hours >= 2:
        return f"{hours:.0f} hours ago"
    return f"{max(1.0, seconds / 60):.0f} min ago"


def compose(ev: Facts) -> str:
    """The offline summary: a few plain lines."""
    inc = ev.incident
    lines = [
        _what(inc),
        _when(ev),
        _services(inc),
        _root_cause(inc),
        _did(ev),
        _people(ev),
        *_changes(ev),
        _looks_like(inc, ev.similar),
    ]
    return "\n".join(line for line in lines if line)


# ------------------------------------------------------------------------------------ what and when


def primary(inc: Incident) -> Member | None:
    members = sorted(inc.members.values(), key=lambda m: m.joined_at)
    about = [m for m in members if m.service == inc.service]
    return (about or members)[0] if members else None


def _alert(m: Member, with_state: bool) -> str:
    where = f" on {m.service}" if m.service else ""
    state = (", firing" if m.firing else ", resolved") if with_state else ""
    return f"{m.alertname}{where} ({m.severity}{state})"


def _what(inc: Incident) -> str:
    first = primary(inc)
    if first is None:
        return f"{inc.title or 'An incident'} ({inc.severity.value})."
    head = _alert(first, with_state=len(inc.members) > 1)
    said = _own_words(first)
    if said:
        head += f": {clip(said)}"
    others = [m for m in sorted(inc.members.values(), key=lambda m: m.joined_at) if m is not first]
    if not others:
        return head.rstrip(".") + "."
    named = "; ".join(_alert(m, True) for m in others[:MAX_OTHERS])
    more = f"; and {len(others) - MAX_OTHERS} more" if len(others) > MAX_OTHERS else ""
    return f"{head.rstrip('.')}. Also: {named}{more}."


def _own_words(m: Member) -> str:
    """The alert's summary without the alert's name and service when it starts with them."""
    text = m.summary.strip()
    for prefix in (f"{m.alertname} on {m.service}", f"{m.service}: {m.alertname}", m.alertname):
        if prefix and text.startswith(prefix):
            text = text[len(prefix) :].lstrip(" :-–—")
            break
    return text


def _when(ev: Facts) -> str:
    inc = ev.incident
    firing = len(inc.firing)
    reopened = f"; reopened {_times(inc.reopened)}" if inc.reopened else ""
    if inc.status is IncidentStatus.RESOLVED and inc.resolved_at is not None:
        how = f"by {inc.resolved_by}" if inc.resolved_by else "when its alerts resolved"
        note = _resolve_note(ev)
        text = (
            f"From {full_time(inc.opened_at)} to {hms(inc.resolved_at)} "
            f"({span(inc.resolved_at - inc.opened_at)}); resolved {how}{note}{reopened}."
        )
    else:
        state = "open"
        if inc.status is IncidentStatus.ACKNOWLEDGED and inc.acknowledged_at is not None:
            state = f"acknowledged by {inc.acknowledged_by or '?'} at {hms(inc.acknowledged_at)}"
        count = f", {firing} of {len(inc.members)} alerts firing" if len(inc.members) > 1 else ""
        text = f"Since {full_time(inc.opened_at)}; {state}{count}{reopened}."
    sign = first_sign(ev)
    if sign is not None:
        text += f" First sign at {hms(sign.ts)}: {clip(sign.message)}."
    return text


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _resolve_note(ev: Facts) -> str:
    resolved = [e for e in ev.timeline if e.kind == "resolved" and e.actor != "vigil"]
    if not resolved:
        return ""
    e = resolved[-1]
    note = e.message.removeprefix("resolved: ").removeprefix(f"by {e.actor}").lstrip(": ")
    return f" ({clip(note, 120)})" if note else ""


def first_sign(ev: Facts) -> Event | None:
    """The earliest symptom before the incident opened: a probe turning unhealthy, or one of its alerts
    starting (an outside alert may start long before it reaches vigil)."""
    inc = ev.incident
    services = set(inc.services) | {inc.service}
    signs = [
        e
        for e in ev.events
        if e.ts < inc.opened_at - 1
        and (
            (e.kind == "health" and e.data.get("after") == "unhealthy" and e.service in services)
            or (
                e.kind == "alert"
                and e.data.get("status") == "firing"
                and e.data.get("fingerprint") in inc.members
            )
        )
    ]
    return min(signs, key=lambda e: e.ts, default=None)


def _services(inc: Incident) -> str:
    if len(inc.services) < 2 or len(inc.members) <= MAX_OTHERS + 1:  # else the first line named them all
        return ""
    counts = {s: sum(1 for m in inc.members.values() if m.service == s) for s in inc.services}
    parts = [f"{s} ({n} alert{'s' if n != 1 else ''})" for s, n in counts.items()]
    return f"Services: {', '.join(parts)}."


# ------------------------------------------------------------------------------------ root cause


def _root_cause(inc: Incident) -> str:
    causes = [c for c in inc.root_causes if isinstance(c, dict) and c.get("service")]
    if not causes:
        if len(inc.services) > 1 and inc.service:
            return f"Probable root cause: not ranked yet; {inc.service} is the service the others depend on."
        return ""
    top = causes[0]
    text = f"Probable root cause: {top['service']}{_score(top)}"
    why = top.get("why")
    if isinstance(why, str) and why:
        text += f": {clip(why, 240)}"
    elif isinstance(why, list) and why:
        text += ": " + "; ".join(clip(str(w), 120) for w in why[:3])
    rest = [f"{c['service']}{_score(c)}" for c in causes[1:3]]
    if rest:
        text += f". Next: {', '.join(rest)}"
    return text.rstrip(".") + "."


def _score(cause: dict) -> str:
    score = cause.get("score")
    return f" (score {float(score):.2f})" if isinstance(score, (int, float)) else ""


# ------------------------------------------------------------------------------------ actions


def scale_text(d: Decision) -> str | None:
    """A scaling decision that changed the replicas, in words (without its time); None for one that
    kept them as they were."""
    before, after = d.inputs.get("current_replicas"), d.result.get("replicas")
    if d.kind != "scale" or before == after or after is None:
        return None
    did = "scaled" if d.result.get("act") else "would have scaled (not acting)"
    return f"{did} {d.subject} {before} → {after} replicas ({d.rule})"


def _did(ev: Facts) -> str:
    inc = ev.incident
    items: dict[str, tuple[float, int]] = {}  # text -> first time, count
    for e in ev.timeline:
        if e.kind in ("notified", "escalated", "action"):
            first, n = items.get(e.message, (e.ts, 0))
            items[e.message] = (first, n + 1)
    texts = [(ts, f"{msg} at {hms(ts)}" + (f" (×{n})" if n > 1 else "")) for msg, (ts, n) in items.items()]
    for d in ev.decisions:
        if d.ts >= inc.opened_at and d.kind == "scale" and d.result.get("act"):
            t = scale_text(d)
            if t:
                texts.append((d.ts, f"{t} at {hms(d.ts)}"))
    texts.sort()
    if not texts:
        return ""
    shown = [t for _, t in texts[:MAX_ACTIONS]]
    more = f"; and {len(texts) - MAX_ACTIONS} more" if len(texts) > MAX_ACTIONS else ""
    return f"vigil did: {'; '.join(shown)}{more}."


def _people(ev: Facts) -> str:
    parts = []
    for e in ev.timeline:
        if e.kind == "assigned":
            parts.append(f"{clip(e.message, 80)} at {hms(e.ts)}")
    notes = [e for e in ev.timeline if e.kind == "note"][-MAX_NOTES:]
    parts += [f'{e.actor} noted at {hms(e.ts)}: "{clip(e.message, 120)}"' for e in notes]
    return f"People: {'; '.join(parts)}." if parts else ""


# ------------------------------------------------------------------------------------ changes


def _change_items(ev: Facts, lo: float, hi: float, opened: float) -> list[tuple[float, str]]:
    def when(ts: float) -> str:
        rel = f"{span(opened - ts)} before" if ts < opened else f"{span(ts - opened)} after it opened"
        return f"at {hms(ts)} ({rel})"

    items = [
        (v.at, f"{v.service} {v.label} {v.before} → {v.after} {when(v.at)}")
        for v in ev.versions
        if lo <= v.at < hi
    ]
    for d in ev.decisions:  # scaling after it opened is in "vigil did"; replica notes are events too
        if d.kind == "scale" and lo <= d.ts < min(hi, opened):
            t = scale_text(d)
            if t:
                items.append((d.ts, f"{t} {when(d.ts)}"))
    items += [
        (e.ts, f"{clip(e.message, 120)} {when(e.ts)}")
        for e in ev.events
        if lo <= e.ts < hi and e.kind in CHANGE_KINDS
    ]
    return sorted(items)


def _changes(ev: Facts) -> Iterable[str]:
    inc = ev.incident
    before = _change_items(ev, ev.since, inc.opened_at, inc.opened_at)
    end = inc.resolved_at if inc.resolved_at is not None else ev.now
    during = _change_items(ev, inc.opened_at, end + 1e-6, inc.opened_at)
    window = format_duration(ev.lookback)
    if before:
        yield "Changed before it opened: " + "; ".join(t for _, t in before[-MAX_CHANGES:]) + "."
    elif ev.lookback > 0:
        yield (
            f"Nothing recorded as changed in the {window} before it opened (no deploy, scaling, replica "
            "or config change)."
        )
    if during:
        yield "Changed since: " + "; ".join(t for _, t in during[:MAX_CHANGES]) + "."


# ------------------------------------------------------------------------------------ memory


def similar_text(inc: Incident, m: Match) -> str:
    what = f"{m.service}: {', '.join(m.alertnames[:2])}" if m.alertnames else m.title
    text = f"#{m.id} from {ago(inc.opened_at - m.opened_at)} ({clip(what, 80)})"
    if m.resolved_at is not None:
        text += f", resolved in {span(m.resolved_at - m.opened_at)}"
    elif m.status != "resolved":
        text += ", still open"
    if m.resolution:
        text += f"; {m.resolution}"
    return text


def _looks_like(inc: Incident, similar: list[Match]) -> str:
    if not similar:
        return ""
    text = f"Looks like {similar_text(inc, similar[0])}"
    if len(similar) > 1:
        text += f". Also like {', '.join(f'#{m.id}' for m in similar[1:])}"
    return text.rstrip(".") + "."
