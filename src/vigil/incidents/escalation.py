"""Escalation: while nobody acknowledges an open incident, its policy's levels are paged in turn.

A policy is a list of levels, each paged `after` that long since the incident opened (or reopened):
level 1 usually at once, level 2 after 15 minutes, ... Each level names receivers, `oncall:<schedule>`
(whoever is on call then: that user's receiver) or `user:<name>`. A level with nobody to page (a gap
in the schedule) hands on to the next level at once. With `repeat_every`, the policy starts again
from level 1 that long after its last level, `max_repeats` times at most. Acknowledging stops it;
resolving stops it and tells everyone it paged that it resolved; a reopened incident starts again.

Where it stands is kept on the incident (`Incident.escalation`: policy, round, level, next due, who
was paged), so a restart neither forgets a level nor pages one twice: each page's notice key is made
of the incident, the reopen count, the round, the level and the receiver, and the outbox sends a key
once. The timing (`due`) is a pure function; `Escalation.step` turns it into notices and lines of
the incident's timeline, and the incidents stage records them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vigil.config.oncall import ONCALL_PREFIX, USER_PREFIX, EscalationPolicy
from vigil.incidents.links import LinkSigner, configured_secret, ensure_secret, external_url, notice_incident
from vigil.incidents.model import Incident, IncidentStatus
from vigil.incidents.oncall import Roster
from vigil.model import Alert, AlertStatus, Decision, Notice
from vigil.notify.render import span
from vigil.pipeline import Offload


@dataclass(frozen=True, slots=True)
class Page:
    """One level of a policy, due: `position` counts levels over rounds (round r, level n: r * levels
    + n); `level` is 1-based, `round` 0 for the first pass through the policy."""

    position: int
    level: int
    round: int
    targets: tuple[str, ...]
    due_at: float


def due_at(policy: EscalationPolicy, started_at: float, position: int) -> float | None:
    """When the level at `position` is due, or None past the policy's last round."""
    rounds = 1 + (policy.max_repeats if policy.repeat_every is not None else 0)
    r, n = divmod(position, len(policy.levels))
    if position < 0 or r >= rounds:
        return None
    return started_at + r * policy.cycle + policy.levels[n].after


def page_at(policy: EscalationPolicy, started_at: float, position: int) -> Page | None:
    when = due_at(policy, started_at, position)
    if when is None:
        return None
    r, n = divmod(position, len(policy.levels))
    return Page(position, n + 1, r, tuple(policy.levels[n].notify), when)


def due(policy: EscalationPolicy, started_at: float, paged: int, now: float) -> list[Page]:
    """The levels due at `now` after the one at position `paged` (-1: none yet), in order. When
    several rounds came due at once (vigil was down), only the latest round's levels are paged."""
    out: list[Page] = []
    position = paged + 1
    while (page := page_at(policy, started_at, position)) is not None and page.due_at <= now:
        out.append(page)
        position += 1
    if out:
        latest = out[-1].round
        out = [p for p in out if p.round == latest]
    return out


def reason(policy: EscalationPolicy, page: Page, started_at: float) -> str:
    """Why this page is sent, in words: "escalated to level 2: nobody acknowledged in 15m"."""
    waited = span(page.due_at - started_at)
    if page.level == 1 and not page.round:
        after = policy.levels[0].after
        return f"level 1 of escalation policy {policy.name}" + (
            f": nobody acknowledged in {waited}" if after else "")
    repeat = f" (repeat {page.round} of {policy.max_repeats})" if page.round else ""
    word = "paged again: level" if page.level == 1 else "escalated to level"
    return f"{word} {page.level}{repeat}: nobody acknowledged in {waited}"


@dataclass(slots=True)
class Recipient:
    receiver: str
    who: str  # the user on call, or the receiver itself
    via: str  # the level's target that named it


@dataclass(slots=True)
class Step:
    """What one incident's escalation did in a pass: notices to send, timeline lines (kind, message,
    data), a decision per level paged, and its new state (stored on the incident)."""

    state: dict[str, Any]
    notices: list[Notice] = field(default_factory=list)
    entries: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)


class Escalation:
    """Policies, schedules and the link signer of one configuration; `step` moves one incident on."""

    def __init__(self, config: Any, signer: LinkSigner | None) -> None:
        oncall = config.oncall
        self.oncall, self.signer = oncall, signer
        self.policies = {p.name: p for p in oncall.escalation_policies}
        self.rosters = {s.name: Roster(s) for s in oncall.schedules}
        self.users = {u.name: u for u in oncall.users}
        self.of_service = {s.name: s.escalation for s in config.services if s.escalation}
        self.default = oncall.default_policy

    @classmethod
    async def start(cls, config: Any, store: Any, worker: Offload) -> "Escalation":
        """With the link secret: the configured one, or the store's (made at the first start)."""
        secret = configured_secret(config)
        if secret is None:
            secret = await worker.call(ensure_secret, store)
        return cls(config, LinkSigner(secret, external_url(config), config.server.link_expiry))

    def policy_for(self, inc: Incident) -> EscalationPolicy | None:
        """The policy of the service the incident is about, else of its other services in order, else
        the default one."""
        for service in [inc.service, *inc.services]:
            name = self.of_service.get(service)
            if name is not None:
                return self.policies.get(name)
        return self.policies.get(self.default) if self.default else None

    def recipients(self, targets: tuple[str, ...], now: float) -> list[Recipient]:
        out: dict[str, Recipient] = {}
        for target in targets:
            who: str | None = None
            if target.startswith(ONCALL_PREFIX):
                roster = self.rosters.get(target[len(ONCALL_PREFIX):])
                shift = roster.on_call_at(now) if roster is not None else None
                who = shift.user if shift is not None else None
            elif target.startswith(USER_PREFIX):
                who = target[len(USER_PREFIX):]
            else:
                out.setdefault(target, Recipient(target, target, target))
                continue
            user = self.users.get(who) if who is not None else None
            if user is not None and user.receiver is not None:
                out.setdefault(user.receiver, Recipient(user.receiver, user.name, target))
        return list(out.values())

    # -------------------------------------------------------------------------------- one incident

    def step(self, inc: Incident, now: float) -> Step | None:
        """Move one incident's escalation on to `now`; None when nothing changed."""
        state = inc.escalation
        if not inc.open:
            done = not state or state.get("stopped") == "resolved"
            return None if done else self._stop(inc, state, "resolved", now)
        if inc.status is IncidentStatus.ACKNOWLEDGED:
            if state and state.get("stopped") is None and state.get("episode") == inc.reopened:
                return self._stop(inc, state, "acknowledged", now)
            return None
        policy = self.policies.get(state.get("policy", "")) if state else None
        fresh = not state or state.get("episode") != inc.reopened or policy is None
        if fresh:
            policy = self.policy_for(inc)
            if policy is None:
                return None
            started = inc.opened_at if inc.reopened == 0 else now
            state = {"policy": policy.name, "episode": inc.reopened, "started_at": started, "position": -1,
                     "level": 0, "round": 0, "next_due": started, "next_level": 1, "stopped": None,
                     "paged": []}
        assert policy is not None
        if state["next_due"] is None or now < state["next_due"]:
            return Step(state) if fresh else None
        return self._page(inc, policy, dict(state, paged=list(state["paged"])), now)

    def _page(self, inc: Incident, policy: EscalationPolicy, state: dict[str, Any], now: float) -> Step:
        step = Step(state)
        pages = due(policy, state["started_at"], state["position"], now)
        while pages:
            page = pages.pop(0)
            people = self.recipients(page.targets, now)
            why = reason(policy, page, state["started_at"])
            if people:
                step.notices += [self._notice(inc, policy, page, why, p, now) for p in people]
                shown = ", ".join(p.who if p.who == p.receiver else f"{p.who} ({p.via}, via {p.receiver})"
                                  for p in people)
                message = f"{why}; paged {shown}"
                state["paged"] += [p.receiver for p in people if p.receiver not in state["paged"]]
            else:
                message = f"{why}; nobody to page ({', '.join(page.targets)}: nobody on call)"
                following = page_at(policy, state["started_at"], page.position + 1)
                if not pages and following is not None and following.round == page.round:
                    pages.append(Page(following.position, following.level, following.round, following.targets,
                                      now))  # the next level at once, as PagerDuty does
            told = {"receivers": [p.receiver for p in people],
                    "users": [p.who for p in people if p.who != p.receiver]}
            step.entries.append(("escalated", message, {"policy": policy.name, "level": page.level,
                                                        "round": page.round, **told}))
            inputs = {"policy": policy.name, "level": page.level, "round": page.round,
                      "targets": list(page.targets), "started_at": state["started_at"], "due_at": page.due_at,
                      "status": inc.status.value}
            rule = f"{policy.name} level {page.level}"
            step.decisions.append(Decision(now, "escalation", str(inc.id), rule, inputs, told))
            state.update(position=page.position, level=page.level, round=page.round)
        following = page_at(policy, state["started_at"], state["position"] + 1)
        state["next_due"] = following.due_at if following is not None else None
        state["next_level"] = following.level if following is not None else None
        return step

    def _stop(self, inc: Incident, state: dict[str, Any], why: str, now: float) -> Step:
        new = dict(state, stopped=why, next_due=None, next_level=None)
        step = Step(new)
        by = inc.acknowledged_by if why == "acknowledged" else inc.resolved_by
        message = f"escalation stopped: {why}" + (f" by {by}" if by else "")
        paged = list(state.get("paged") or [])
        if why == "resolved" and paged:
            step.notices = [self._resolved_notice(inc, state, r, now) for r in paged]
            message += f"; told {', '.join(paged)} it resolved"
        step.entries.append(("escalation_stopped", message, {"policy": state.get("policy"), "why": why}))
        return step

    # ------------------------------------------------------------------------------------ notices

    def _notice(self, inc: Incident, policy: EscalationPolicy, page: Page, why: str, to: Recipient,
                now: float) -> Notice:
        alerts = _alerts(inc, AlertStatus.FIRING, None)
        mapping = notice_incident(inc, self.signer, to.who, now)
        mapping["escalation"] = {"policy": policy.name, "level": page.level, "round": page.round,
                                 "reason": why, "user": to.who if to.who != to.receiver else None}
        key = f"escalation/{inc.id}/{inc.reopened}/{page.round}/{page.level}/{to.receiver}"
        return Notice(key, to.receiver, _group(inc), AlertStatus.FIRING, alerts, now,
                      {"incident": str(inc.id)}, 0, mapping, "escalation")

    def _resolved_notice(self, inc: Incident, state: dict[str, Any], receiver: str, now: float) -> Notice:
        alerts = _alerts(inc, AlertStatus.RESOLVED, inc.resolved_at or now)
        mapping = notice_incident(inc, self.signer, receiver, now)
        mapping["escalation"] = {"policy": state.get("policy"), "level": state.get("level"),
                                 "reason": "resolved"}
        key = f"escalation/{inc.id}/{inc.reopened}/resolved/{receiver}"
        return Notice(key, receiver, _group(inc), AlertStatus.RESOLVED, alerts, now,
                      {"incident": str(inc.id)}, 0, mapping, "escalation")


def _group(inc: Incident) -> str:
    """One group per incident and episode: its pages go out in order, and "resolved" after them."""
    return f"escalation/{inc.id}/{inc.reopened}"


def _alerts(inc: Incident, status: AlertStatus, ends_at: float | None) -> list[Alert]:
    """The incident's alerts as a notice lists them (its firing ones for a page): name, service,
    severity, summary and fingerprint; the route stage puts in the full alerts from the book."""
    members = list(inc.members.values())
    if status is AlertStatus.FIRING:
        members = [m for m in members if m.firing] or members
    return [Alert({"alertname": m.alertname, "service": m.service, "severity": m.severity,
                   "incident": str(inc.id)}, status, m.joined_at, ends_at,
                  {"summary": m.summary} if m.summary else {}, fingerprint=m.fingerprint)
            for m in members]
