"""Notifiers built from receiver configs in Alertmanager's vocabulary, and the contract every registered
notifier keeps: a failing receiver is a Delivery (never an exception), says whether to retry, and
never shows a credential."""

from __future__ import annotations

import pytest
import yaml

from tests.notify.conftest import notice
from vigil.config.receivers import GlobalConfig, Receiver
from vigil.demo.run import free_port
from vigil.notify import NOTIFIERS, build_notifiers, integration_names
from vigil.notify.http import ConfigError

SECRET = "s3cr3t-9c1e7b"

ALERTMANAGER_RECEIVER = f"""
name: team-payments
slack_configs:
  - api_url: http://127.0.0.1:1/services/{SECRET}
    channel: '#payments'
    title: '{{{{ template "slack.default.title" . }}}}'
discord_configs:
  - webhook_url: http://127.0.0.1:1/api/webhooks/1/{SECRET}
email_configs:
  - to: oncall@example.test
    from: vigil@example.test
    smarthost: 127.0.0.1:1
    auth_username: alerts
    auth_password: {SECRET}
webhook_configs:
  - url: http://127.0.0.1:1/hook?token={SECRET}
    max_alerts: 10
  - url: http://127.0.0.1:1/second
    send_resolved: false
pagerduty_configs:
  - routing_key: {SECRET}
    url: http://127.0.0.1:1/v2/enqueue
    severity: critical
"""


def test_one_notifier_per_integration_with_alertmanager_defaults():
    receiver = Receiver.model_validate(yaml.safe_load(ALERTMANAGER_RECEIVER))
    notifiers = build_notifiers(receiver)
    assert [n.kind for n in notifiers] == ["slack", "discord", "email", "webhook", "webhook", "pagerduty"]
    assert integration_names(notifiers) == [
        "slack[0]",
        "discord[0]",
        "email[0]",
        "webhook[0]",
        "webhook[1]",
        "pagerduty[0]",
    ]
    # Alertmanager's send_resolved defaults: false for Slack and email, true for the others
    assert [n.send_resolved for n in notifiers] == [False, True, False, True, False, True]  # type: ignore[attr-defined]


def test_registry_holds_the_five_kinds():
    assert NOTIFIERS.kinds() == ["discord", "email", "pagerduty", "slack", "webhook"]


def test_secrets_from_files_and_globals(tmp_path):
    url_file = tmp_path / "slack-url"
    url_file.write_text(f"http://127.0.0.1:1/services/{SECRET}\n")
    [slack] = build_notifiers(Receiver(name="r", slack_configs=[{"api_url_file": str(url_file)}]))
    assert slack._url.endswith(SECRET)  # type: ignore[attr-defined]
    g = GlobalConfig(slack_api_url=f"http://127.0.0.1:1/global/{SECRET}")
    [slack] = build_notifiers(Receiver(name="r", slack_configs=[{}]), g)
    assert slack._url.endswith(f"global/{SECRET}")  # type: ignore[attr-defined]
    [pd] = build_notifiers(
        Receiver(name="r", pagerduty_configs=[{"routing_key": "k"}]),
        GlobalConfig(pagerduty_url="http://127.0.0.1:1/pd"),
    )
    assert pd._url == "http://127.0.0.1:1/pd"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "receiver, message",
    [
        (
            {"name": "r", "webhook_configs": [{"max_alerts": 1}]},
            "receiver 'r' webhook_configs[0]: url is missing",
        ),
        ({"name": "r", "slack_configs": [{}]}, "api_url is missing"),
    ({"name": "r", "webhook_configs": [{"url": f"hooks.example.test/{SECRET}"}]}, "must be an http:// or https://"),
        (
            {"name": "r", "discord_configs": [{"webhook_url": "http://x/", "webhook_url_file": "/nope"}]},
            "not both",
        ),
        ({"name": "r", "pagerduty_configs": [{"routing_key_file": "/no/such/file"}]}, "cannot be read"),
        (
            {
                "name": "r",
                "webhook_configs": [
                    {"url": "http://x/", "http_config": {"tls_config": {"server_name": "x"}}}
                ],
            },
            "server_name not supported",
        ),
    ],
)
def test_a_config_that_cannot_work_is_refused_naming_the_integration(receiver, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_notifiers(Receiver.model_validate(receiver))


def _closed_port_configs(port: int) -> dict[str, dict]:
    base = f"http://127.0.0.1:{port}"
    return {
        "slack": {"api_url": f"{base}/services/{SECRET}"},
        "discord": {"webhook_url": f"{base}/api/webhooks/{SECRET}"},
        "webhook": {"url": f"{base}/hook/{SECRET}", "http_config": {"bearer_token": SECRET}},
        "pagerduty": {"routing_key": SECRET, "url": f"{base}/v2/enqueue"},
        "email": {
            "to": "a@example.test",
            "from": "v@example.test",
            "smarthost": f"127.0.0.1:{port}",
            "auth_username": "u",
            "auth_password": SECRET,
            "require_tls": False,
        },
    }


@pytest.mark.parametrize("kind", NOTIFIERS.kinds())
async def test_contract_a_dead_receiver_is_a_retryable_delivery_without_secrets(kind):
    port = free_port()
    config = _closed_port_configs(port)[kind]
    [n] = build_notifiers(Receiver.model_validate({"name": "r", f"{kind}_configs": [config]}))
    try:
        d = await n.send(notice("k1"))
    finally:
        await n.aclose()  # type: ignore[attr-defined]
    assert not d.ok and d.retryable
    assert SECRET not in d.detail and str(port) not in d.detail
    assert SECRET not in repr(Receiver.model_validate({"name": "r", f"{kind}_configs": [config]}))
