"""How an escalation page reads in each format: why it comes first ("Escalated to level 2: nobody
acknowledged in 15m"), the signed links as links and buttons; the "resolved" that follows is not
titled as an escalation."""

from __future__ import annotations

from dataclasses import replace

from tests.notify.conftest import T0, alert, notice
from vigil.config.receivers import SlackConfig
from vigil.incidents.links import LinkSigner, notice_incident
from vigil.incidents.model import Incident, IncidentStatus
from vigil.model import Notice, Severity
from vigil.notify import render
from vigil.notify.slack import SlackNotifier
from vigil.notify.webhook import payload_v4

SIGNER = LinkSigner(b"s" * 32, "https://vigil.example.com")
INC = Incident(7, "payments: PaymentsDown", IncidentStatus.OPEN, Severity.CRITICAL, "payments", T0, T0,
               ["payments"], summary="Error rate of payments rose to 20%.")


def page(status: str = "firing") -> Notice:
    inc = INC if status == "firing" else replace(INC, status=IncidentStatus.RESOLVED, resolved_at=T0 + 60)
    mapping = notice_incident(inc, SIGNER, "alice", T0)
    why = "escalated to level 2: nobody acknowledged in 15m" if status == "firing" else "resolved"
    mapping["escalation"] = {"policy": "payments", "level": 2, "round": 0, "reason": why}
    n = notice("escalation/7/0/0/2/alice-pager", status=status, incident=mapping)
    n.kind = "escalation"
    return n


def test_an_escalation_page_says_why_first_and_carries_its_links() -> None:
    v = render.view(page())
    assert v.title == "Escalated: [FIRING] #7 payments: PaymentsDown"
    text = render.text(v)
    assert "\n\nEscalated to level 2: nobody acknowledged in 15m.\n\nError rate of payments rose to 20%.\n" \
        in text
    links = dict(render.all_links(v))
    assert set(links) == {"Incident", "Acknowledge", "Resolve"}
    assert links["Acknowledge"].startswith("https://vigil.example.com/links/7.a.")
    assert SIGNER.check(links["Resolve"].rsplit("/", 1)[1], T0).actor == "link:alice"
    html = render.html_body(v)
    assert "<p>Escalated to level 2: nobody acknowledged in 15m." in html
    assert f'<a href="{links["Acknowledge"]}">Acknowledge</a>' in html


def test_slack_shows_the_links_as_buttons() -> None:
    slack = SlackNotifier(SlackConfig.model_validate({"api_url": "https://hooks.slack.com/services/T/B/x"}))
    body = slack.payload(page())
    blocks = body["attachments"][0]["blocks"]
    buttons = [e["text"]["text"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["Incident", "Acknowledge", "Resolve"]
    assert any("Escalated to level 2" in str(b) for b in blocks)


def test_the_resolved_page_reads_as_resolved_with_only_a_view_link() -> None:
    n = page("resolved")
    v = render.view(n)
    assert v.title == "[RESOLVED] #7 payments: PaymentsDown"
    assert "Escalated" not in render.text(v)
    assert [t for t, _ in render.all_links(v)] == ["Incident"]
    assert payload_v4(n)["status"] == "resolved"


def test_alert_only_notices_are_unchanged() -> None:
    assert render.view(notice("k", alerts=[alert()])).title == "[FIRING:1] HighErrorRate on payments"
