"""The texts vigil writes for a notice: what is wrong, which services, since when, and the incident's
summary, root cause and links when there is one."""

from __future__ import annotations

from tests.notify.conftest import INCIDENT_EXAMPLE, T0, alert, notice
from vigil.notify import render


def test_plain_text_of_a_group_without_incident():
    n = notice(
        "k",
        alerts=[
            alert(service="payments", starts_at=T0 - 300),
            alert("Latency", service="storefront", severity="warning", starts_at=T0 - 90),
        ],
    )
    v = render.view(n)
    assert v.title == "[FIRING:2] 2 alerts on payments, storefront"
    assert v.severity == "critical" and v.services == ["payments", "storefront"]
    text = render.text(v)
    assert "Services: payments, storefront" in text
    assert "When: since 2023-11-14 22:08:20 UTC (5m)" in text
    assert "  - Latency on storefront [warning]: Latency on storefront" in text


def test_resolved_says_from_when_to_when():
    n = notice(
        "k", status="resolved", alerts=[alert(status="resolved", starts_at=T0 - 3700, ends_at=T0 - 100)]
    )
    v = render.view(n)
    assert v.title == "[RESOLVED] HighErrorRate on payments" and v.colour == render.COLOURS["resolved"]
    assert render.since_text(v) == "from 2023-11-14 21:11:40 UTC to 2023-11-14 22:11:40 UTC (1h)"


def test_incident_summary_root_cause_and_links():
    v = render.view(notice("k", incident=INCIDENT_EXAMPLE))
    assert v.title == "[FIRING] #42 payments is failing"
    text = render.text(v)
    assert "Error rate of payments rose to 20%." in text
    assert "  1. payments (score 0.91): errors rose 40 s before storefront\n  2. db" in text
    assert (
        "Incident: http://vigil.test/incidents/42" in text
        and "Acknowledge: http://vigil.test/ack/42?sig=abc" in text
    )


def test_html_is_escaped():
    a = alert()
    a.annotations["summary"] = '<script>alert("x")</script>'
    page = render.html_body(render.view(notice("k", alerts=[a])))
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_long_groups_list_some_alerts_and_count_the_rest():
    alerts = [alert(instance=str(i)) for i in range(render.MAX_LINES + 5)]
    n = notice("k", alerts=alerts)
    n.truncated_alerts = 3
    v = render.view(n)
    assert len(v.lines) == render.MAX_LINES and v.more == 8
    assert "... and 8 more" in render.text(v)


def test_only_plain_text_config_values_are_used():
    assert render.literal("Payments down") == "Payments down"
    assert render.literal('{{ template "slack.default.title" . }}') is None
    assert render.literal(None) is None


def test_reminders_and_escalations_say_so():
    n = notice("k", incident=INCIDENT_EXAMPLE)
    n.kind = "reminder"
    assert render.view(n).title == "Reminder: [FIRING] #42 payments is failing"
