"""Slack, Discord, webhook and PagerDuty notifiers against real HTTP servers on loopback: what they
send, how they classify failures, and that no credential leaks into a Delivery."""

from __future__ import annotations

import hashlib

import pytest

from tests.notify.conftest import INCIDENT_EXAMPLE as INCIDENT
from tests.notify.conftest import T0, alert, notice
from vigil.config.receivers import DiscordConfig, PagerDutyConfig, SlackConfig, WebhookConfig
from vigil.notify.discord import DiscordNotifier
from vigil.notify.pagerduty import PagerDutyNotifier
from vigil.notify.slack import SlackNotifier
from vigil.notify.webhook import WebhookNotifier

TOKEN = "T0KEN-8f3a91c2d7e4"


async def test_slack_blocks_colour_and_fallback(receiver):
    n = SlackNotifier(
        SlackConfig(api_url=f"{receiver.url}/services/{TOKEN}", channel="#ops", username="vigil")
    )
    d = await n.send(notice("k1", incident=INCIDENT))
    assert d.ok and d.status_code == 200
    [body] = receiver.bodies()
    assert receiver.requests[0].path == f"/services/{TOKEN}"
    assert body["channel"] == "#ops" and body["username"] == "vigil"
    assert body["text"] == "[FIRING] #42 payments is failing"  # the fallback for notifications
    att = body["attachments"][0]
    assert att["color"] == "#E01E5A"  # critical
    kinds = [b["type"] for b in att["blocks"]]
    assert kinds[0] == "header" and "actions" in kinds and kinds[-1] == "context"
    texts = " ".join(str(b) for b in att["blocks"])
    assert "Error rate of payments rose to 20%." in texts
    assert "payments (score 0.91): errors rose 40 s before storefront" in texts
    assert "HighErrorRate on payments [critical]" in texts
    buttons = next(b for b in att["blocks"] if b["type"] == "actions")["elements"]
    assert [(b["text"]["text"], b["url"]) for b in buttons] == [
        ("Incident", "http://vigil.test/incidents/42"),
        ("Acknowledge", "http://vigil.test/ack/42?sig=abc"),
        ("Resolve", "http://vigil.test/res/42"),
    ]
    await n.send(notice("k2", status="resolved"))
    assert receiver.bodies()[1]["attachments"][0]["color"] == "#2EB67D"  # resolved: green
    await n.aclose()


async def test_slack_escapes_mrkdwn_and_takes_plain_text_keys_but_not_go_templates(receiver):
    cfg = SlackConfig(
        api_url=f"{receiver.url}/hook",
        title="Payments down",
        text="{{ .CommonAnnotations.summary }}",
        color="#123456",
    )
    n = SlackNotifier(cfg)
    a = alert()
    a.annotations["summary"] = "p99 > 2s <b>&</b>"
    await n.send(notice("k1", alerts=[a]))
    att = receiver.bodies()[0]["attachments"][0]
    assert att["blocks"][0]["text"]["text"] == "Payments down" and att["color"] == "#123456"
    alerts_text = str(att["blocks"])
    assert "p99 &gt; 2s &lt;b&gt;&amp;&lt;/b&gt;" in alerts_text and "{{" not in alerts_text
    await n.aclose()


async def test_discord_embed(receiver):
    receiver.ok_status = 204
    n = DiscordNotifier(DiscordConfig(webhook_url=f"{receiver.url}/api/webhooks/1/{TOKEN}", username="vigil"))
    d = await n.send(notice("k1", incident=INCIDENT))
    assert d.ok and d.status_code == 204
    [body] = receiver.bodies()
    [embed] = body["embeds"]
    assert embed["title"] == "[FIRING] #42 payments is failing"
    assert embed["color"] == 0xE01E5A and embed["url"] == "http://vigil.test/incidents/42"
    assert "HighErrorRate on payments" in embed["description"]
    assert "**Probable root cause**" in embed["description"]
    assert {f["name"] for f in embed["fields"]} == {"Services", "Severity", "When"}
    assert body["allowed_mentions"] == {"parse": []} and body["username"] == "vigil"
    await n.aclose()


async def test_webhook_sends_alertmanager_payload_v4(receiver):
    n = WebhookNotifier(WebhookConfig(url=f"{receiver.url}/alerts"), external_url="http://vigil.test")
    a1 = alert(starts_at=T0 - 60.25, instance="a")
    a2 = alert(status="resolved", starts_at=T0 - 600, ends_at=T0 - 1, instance="b")
    a1.evidence["generator_url"] = "http://prom.test/graph?g0.expr=up"
    await n.send(notice("k1", alerts=[a1, a2]))
    [body] = receiver.bodies()
    assert set(body) == {
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    }
    assert body["version"] == "4" and body["groupKey"] == '{}:{group="g1"}' and body["truncatedAlerts"] == 0
    assert (
        body["status"] == "firing"
        and body["receiver"] == "team"
        and body["externalURL"] == "http://vigil.test"
    )
    assert body["groupLabels"] == {"group": "g1"}
    assert body["commonLabels"] == {
        "alertname": "HighErrorRate",
        "service": "payments",
        "severity": "critical",
    }
    first, second = body["alerts"]
    assert set(first) == {
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    }
    assert first["startsAt"] == "2023-11-14T22:12:19.75Z" and first["endsAt"] == "0001-01-01T00:00:00Z"
    assert (
        first["generatorURL"] == "http://prom.test/graph?g0.expr=up"
        and first["fingerprint"] == a1.fingerprint
    )
    assert second["status"] == "resolved" and second["endsAt"] == "2023-11-14T22:13:19Z"
    assert receiver.requests[0].headers["Content-Type"] == "application/json"
    await n.aclose()


async def test_webhook_max_alerts_truncates_and_counts(receiver):
    n = WebhookNotifier(WebhookConfig(url=f"{receiver.url}/", max_alerts=2))
    alerts = [alert(status="resolved", ends_at=T0, instance="0")] + [
        alert(instance=str(i)) for i in range(1, 5)
    ]
    await n.send(notice("k1", alerts=alerts))
    body = receiver.bodies()[0]
    assert len(body["alerts"]) == 2 and body["truncatedAlerts"] == 3
    assert [a["labels"]["instance"] for a in body["alerts"]] == ["0", "1"]
    await n.aclose()


async def test_webhook_bearer_token_and_body_template(receiver):
    from vigil.config.receivers import HttpConfig

    cfg = WebhookConfig(
        url=f"{receiver.url}/t",
        http_config=HttpConfig(bearer_token=TOKEN),
        body_template='{"text": ${title}, "n": ${alert_count}, "services": ${services}, "who": "$$me"}',
    )
    n = WebhookNotifier(cfg)
    await n.send(notice("k1"))
    assert receiver.bodies()[0] == {
        "text": "[FIRING:1] HighErrorRate on payments",
        "n": 1,
        "services": ["payments"],
        "who": "$me",
    }
    assert receiver.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    await n.aclose()


@pytest.mark.parametrize(
    "template, message",
    [
        ('{"a": ${nope}}', "unknown name(s) nope"),
        ('{"a": "${title}"}', "does not give JSON"),
        ('{"a": $}', "not a ${name} placeholder"),
    ],
)
def test_a_bad_body_template_is_refused_when_the_config_loads(template, message):
    from pydantic import ValidationError

    with pytest.raises(
        ValidationError, match=message.replace("$", r"\$").replace("(", r"\(").replace(")", r"\)")
    ):
        WebhookConfig(url="http://127.0.0.1:1/", body_template=template)


async def test_pagerduty_trigger_and_resolve_with_alertmanager_dedup_key(receiver):
    receiver.ok_status, receiver.ok_body = 202, '{"status":"success"}'
    n = PagerDutyNotifier(
        PagerDutyConfig(routing_key=TOKEN, url=f"{receiver.url}/v2/enqueue", component="api")
    )
    assert (await n.send(notice("k1", incident=INCIDENT))).ok
    assert (await n.send(notice("k2", status="resolved"))).ok
    trigger, resolve = receiver.bodies()
    key = hashlib.sha256(b'{}:{group="g1"}').hexdigest()
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == key and trigger["routing_key"] == TOKEN
    p = trigger["payload"]
    assert p["summary"] == "[FIRING] #42 payments is failing" and p["severity"] == "critical"
    assert p["source"] == "vigil" and p["component"] == "api"
    assert p["custom_details"]["num_firing"] == "1" and p["custom_details"]["incident"] == "42"
    assert trigger["client_url"] == "http://vigil.test/incidents/42"
    assert {"href": "http://vigil.test/res/42", "text": "Resolve"} in trigger["links"]
    await n.aclose()


@pytest.mark.parametrize(
    "severity, expected",
    [("critical", "critical"), ("high", "error"), ("warning", "warning"), ("info", "info"), ("odd", "error")],
)
def test_pagerduty_severity_mapping(severity, expected):
    n = PagerDutyNotifier(PagerDutyConfig(routing_key="x", url="http://127.0.0.1:1/"))
    assert n.payload(notice("k", alerts=[alert(severity=severity)]))["payload"]["severity"] == expected


@pytest.mark.parametrize(
    "status, retryable",
    [(500, True), (503, True), (429, True), (408, True), (400, False), (403, False), (404, False)],
)
async def test_failures_say_whether_to_retry(receiver, status, retryable):
    receiver.answer(status, f"no such hook /hooks/{TOKEN}")  # a receiver that echoes the secret path
    n = WebhookNotifier(WebhookConfig(url=f"{receiver.url}/hooks/{TOKEN}"))
    d = await n.send(notice("k1"))
    assert not d.ok and d.retryable is retryable and d.status_code == status
    assert TOKEN not in d.detail and str(status) in d.detail
    await n.aclose()


async def test_connection_refused_and_timeouts_are_retryable_and_say_no_url(receiver):
    port = receiver.port
    await receiver.stop()
    n = SlackNotifier(SlackConfig(api_url=f"http://127.0.0.1:{port}/services/{TOKEN}"))
    d = await n.send(notice("k1"))
    assert not d.ok and d.retryable and "connection refused" in d.detail
    assert TOKEN not in d.detail and str(port) not in d.detail
    await n.aclose()


async def test_a_receiver_that_does_not_answer_times_out(receiver):
    import asyncio

    receiver.hold = asyncio.Event()
    n = WebhookNotifier(WebhookConfig(url=f"{receiver.url}/slow", timeout=0.2))
    d = await n.send(notice("k1"))
    assert not d.ok and d.retryable and "no answer within 0.2s" in d.detail
    await n.aclose()
