"""The timing of an escalation policy, alone: which levels are due after how long, repeats, catching up
after vigil was down; and signed links: made, checked, refused when tampered with or expired."""

from __future__ import annotations

from dataclasses import replace

import pytest

from vigil.config import parse_config
from vigil.config.oncall import EscalationPolicy
from vigil.incidents.escalation import Escalation, due, due_at, reason
from vigil.incidents.links import LinkRefused, LinkSigner
from vigil.incidents.model import Incident, IncidentStatus
from vigil.model import Severity

POLICY = EscalationPolicy.model_validate({
    "name": "web", "levels": [{"after": 0, "notify": ["a"]}, {"after": "15m", "notify": ["b"]},
                              {"after": "30m", "notify": ["c"]}],
    "repeat_every": "20m", "max_repeats": 2})


def levels(pages: list) -> list[tuple[int, int]]:
    return [(p.round, p.level) for p in pages]


def test_levels_come_due_in_turn_then_the_policy_repeats_until_its_limit() -> None:
    t0 = 1000.0
    assert levels(due(POLICY, t0, -1, t0)) == [(0, 1)]
    assert due(POLICY, t0, 0, t0 + 899) == []
    assert levels(due(POLICY, t0, 0, t0 + 900)) == [(0, 2)]
    assert levels(due(POLICY, t0, 1, t0 + 1800)) == [(0, 3)]
    # a round is the last level's 30m plus repeat_every's 20m: round 1 starts at 50m, with level 1 again
    assert due_at(POLICY, t0, 3) == t0 + 3000 and due_at(POLICY, t0, 4) == t0 + 3900
    assert levels(due(POLICY, t0, 2, t0 + 3000)) == [(1, 1)]
    assert due_at(POLICY, t0, 8) == t0 + 2 * 3000 + 1800  # round 2, level 3: the last page
    assert due_at(POLICY, t0, 9) is None and due(POLICY, t0, 8, t0 + 10**6) == []


def test_after_a_long_stop_only_the_latest_round_is_paged() -> None:
    t0 = 0.0
    # down from 10m to 1h55m: round 0's levels 2 and 3 and round 1 came due meanwhile
    assert levels(due(POLICY, t0, 0, 6900)) == [(2, 1), (2, 2)]
    # without repeats, the due levels of the only round are all paged
    once = POLICY.model_copy(update={"repeat_every": None})
    assert levels(due(once, t0, 0, 6900)) == [(0, 2), (0, 3)]


def test_each_page_says_why_it_comes() -> None:
    pages = due(POLICY, 0.0, -1, 10**5)
    assert reason(POLICY, due(POLICY, 0.0, -1, 0)[0], 0.0) == "level 1 of escalation policy web"
    second = due(POLICY, 0.0, 0, 900)[0]
    assert reason(POLICY, second, 0.0) == "escalated to level 2: nobody acknowledged in 15m"
    assert reason(POLICY, pages[-1], 0.0) == \
        "escalated to level 3 (repeat 2 of 2): nobody acknowledged in 2h 10m"


def test_levels_must_be_in_order() -> None:
    with pytest.raises(ValueError, match=r"levels\[1\].after \(5m\) is earlier than levels\[0\].after \(10m"):
        EscalationPolicy.model_validate({"name": "x", "levels": [{"after": "10m", "notify": ["a"]},
                                                                 {"after": "5m", "notify": ["b"]}]})


SIGNER = LinkSigner(b"k" * 32, "https://vigil.example.com/")


def test_a_link_carries_its_incident_action_expiry_and_recipient() -> None:
    url = SIGNER.url(42, "acknowledge", "alice", now=1000.0)
    assert url.startswith("https://vigil.example.com/links/42.a.")
    link = SIGNER.check(url.rsplit("/", 1)[1], now=1000.0 + 86399)
    assert (link.incident, link.action, link.expires) == (42, "acknowledge", 1000.0 + 86400)
    assert link.actor == "link:alice"
    assert "k" * 32 not in repr(SIGNER) and "kkkk" not in url


def flip(text: str, i: int) -> str:
    return text[:i] + ("B" if text[i] != "B" else "C") + text[i + 1:]


def test_a_tampered_link_is_refused_for_its_signature() -> None:
    token = SIGNER.token(42, "view", "alice", 5000.0)
    incident, code, expires, who, mac = token.split(".")
    forged = [f"43.{code}.{expires}.{who}.{mac}",  # another incident
              f"{incident}.r.{expires}.{who}.{mac}",  # another action
              f"{incident}.{code}.9999999.{who}.{mac}",  # a later expiry
              f"{incident}.{code}.{expires}.Ym9i.{mac}",  # another recipient
              f"{incident}.{code}.{expires}.{who}.{flip(mac, 5)}",
              LinkSigner(b"x" * 32).token(42, "view", "alice", 5000.0)]  # another vigil's secret
    for bad in forged:
        with pytest.raises(LinkRefused, match="^bad signature"):
            SIGNER.check(bad, now=1000.0)


def test_an_expired_or_malformed_link_is_refused_with_why() -> None:
    token = SIGNER.token(42, "resolve", "alice", 5000.0)
    with pytest.raises(LinkRefused, match="^expired: .* ended 16 minutes ago"):
        SIGNER.check(token, now=6000.0)
    malformed = ["", "abc", token + ".x", token.replace(".r.", ".z."), "1." * 300, "x" * 10_000,
                 "٣.a.1.YQ." + "A" * 43]  # (an Arabic-Indic digit is a digit to str.isdigit, not to vigil)
    for bad in malformed:
        with pytest.raises(LinkRefused, match="^malformed"):
            SIGNER.check(bad, now=1000.0)


def escalation(levels: list[dict]) -> Escalation:
    cfg = parse_config(f"""
services: [{{name: payments, escalation: p}}]
alerting:
  route: {{receiver: team}}
  receivers: [{{name: team}}, {{name: lead-pager}}]
oncall:
  users: [{{name: alice, receiver: team}}, {{name: lead, receiver: lead-pager}}]
  schedules:
    - name: later
      layers: [{{start: 2030-01-01, users: [alice]}}]
  escalation_policies:
    - name: p
      levels: {levels}
""", env={})
    return Escalation(cfg, None)


def test_a_level_with_nobody_on_call_hands_on_to_the_next_at_once() -> None:
    esc = escalation([{"after": 0, "notify": ["oncall:later"]}, {"after": 900, "notify": ["user:lead"]},
                      {"after": 1800, "notify": ["team"]}])
    inc = Incident(1, "payments: Down", IncidentStatus.OPEN, Severity.CRITICAL, "payments", 100.0, 100.0,
                   ["payments"])
    step = esc.step(inc, 100.0)
    assert step is not None
    assert [m for _, m, _ in step.entries] == [
        "level 1 of escalation policy p; nobody to page (oncall:later: nobody on call)",
        "escalated to level 2: nobody acknowledged in 0s; paged lead (user:lead, via lead-pager)"]
    assert [(n.receiver, n.key) for n in step.notices] == [("lead-pager", "escalation/1/0/0/2/lead-pager")]
    assert step.state["level"] == 2 and step.state["next_due"] == 100.0 + 1800
    inc.escalation = step.state
    assert esc.step(inc, 100.0 + 1799) is None  # nothing due: nothing changes
    redo = esc.step(replace(inc, escalation={}), 100.0 + 10)  # as if the store never heard of this step
    assert redo is not None and [n.key for n in redo.notices] == ["escalation/1/0/0/2/lead-pager"]  # same key


def test_no_policy_no_escalation() -> None:
    esc = escalation([{"notify": ["team"]}])
    inc = Incident(2, "search: Slow", IncidentStatus.OPEN, Severity.WARNING, "search", 0.0, 0.0, ["search"])
    assert esc.policy_for(inc) is None and esc.step(inc, 10.0) is None
