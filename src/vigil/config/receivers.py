"""Receivers (`alerting.receivers`): where notifications go, in Alertmanager's own vocabulary, so the
`receivers:` section of an existing alertmanager.yml loads unchanged. One receiver has a name and any
number of integrations per kind (`slack_configs`, `discord_configs`, `email_configs`,
`webhook_configs`, `pagerduty_configs`). Field names and defaults are Alertmanager's (e.g.
`send_resolved` is false for Slack and email, true for webhooks, PagerDuty and Discord).

Text fields that Alertmanager fills from Go templates (`title`, `text`, `html`, `message`,
`description`, ...) are accepted as written; vigil renders its own texts from the incident and the
alerts and does not execute Go templates (see docs/notifications.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from vigil.config.types import Duration, Secret, Strict

# Alertmanager integrations vigil does not speak (yet): named in the error, so an imported file
# says exactly what it cannot carry over.
UNSUPPORTED_INTEGRATIONS = ("opsgenie_configs", "pushover_configs", "sns_configs", "telegram_configs",
                            "victorops_configs", "wechat_configs", "webex_configs", "msteams_configs",
                            "msteamsv2_configs", "jira_configs", "rocketchat_configs")


class HttpConfig(Strict):
    """The part of Alertmanager's `http_config` vigil honours; credentials are secrets."""

    bearer_token: Secret | None = None
    basic_auth: dict[str, Secret] | None = Field(None, description="username and password")
    proxy_url: str | None = None
    follow_redirects: bool = True
    tls_config: dict[str, str | bool] | None = None


class Integration(Strict):
    send_resolved: bool = True
    http_config: HttpConfig | None = None


class SlackConfig(Integration):
    send_resolved: bool = False
    api_url: Secret | None = Field(None, description="the Slack incoming-webhook URL (a secret)")
    api_url_file: str | None = None
    channel: str | None = None
    username: str | None = None
    color: str | None = None
    title: str | None = None
    title_link: str | None = None
    pretext: str | None = None
    text: str | None = None
    footer: str | None = None
    fallback: str | None = None
    icon_emoji: str | None = None
    icon_url: str | None = None
    link_names: bool = False
    short_fields: bool = False
    mrkdwn_in: list[str] = Field(default_factory=list)


class DiscordConfig(Integration):
    webhook_url: Secret | None = Field(None, description="the Discord webhook URL (a secret)")
    webhook_url_file: str | None = None
    title: str | None = None
    message: str | None = None
    content: str | None = None
    username: str | None = None
    avatar_url: str | None = None


class EmailConfig(Integration):
    send_resolved: bool = False
    to: str = Field(description="comma-separated recipients")
    from_: str | None = Field(None, alias="from", description="the sender address")
    smarthost: str | None = Field(None, description="host:port of the SMTP server")
    hello: str = "localhost"
    auth_username: str | None = None
    auth_password: Secret | None = None
    auth_password_file: str | None = None
    auth_secret: Secret | None = None
    auth_identity: str | None = None
    require_tls: bool = Field(True, description="STARTTLS required (Alertmanager's default)")
    tls_config: dict[str, str | bool] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    html: str | None = None
    text: str | None = None

    model_config = {**Strict.model_config, "populate_by_name": True}


class WebhookConfig(Integration):
    url: Secret | None = Field(None, description="where the JSON is POSTed (a secret: it may hold a token)")
    url_file: str | None = None
    max_alerts: int = Field(0, ge=0, description="alerts per message at most (0: all); the rest counted "
                                                 "in truncatedAlerts")
    timeout: Duration = 0.0
    # vigil's own (Alertmanager has no such key): a JSON body with ${name} placeholders instead of the
    # payload v4; checked when the configuration loads (see docs/notifications.md).
    body_template: str | None = None

    @field_validator("body_template")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        if v is not None:
            from vigil.notify.template import check_template  # lazy: config stays light

            check_template(v)
        return v


class PagerDutyConfig(Integration):
    routing_key: Secret | None = Field(None, description="Events API v2 integration key")
    routing_key_file: str | None = None
    service_key: Secret | None = Field(None, description="Events API v1 key (accepted; v2 is used)")
    url: str = "https://events.pagerduty.com/v2/enqueue"
    client: str = "vigil"
    client_url: str | None = None
    description: str | None = None
    severity: str | None = None
    source: str | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(None, alias="class")
    details: dict[str, str] = Field(default_factory=dict)

    model_config = {**Strict.model_config, "populate_by_name": True}


class GlobalConfig(Strict):
    """The part of Alertmanager's `global:` section the notifiers use: defaults for every integration
    that does not set its own."""

    smtp_from: str | None = None
    smtp_hello: str = "localhost"
    smtp_smarthost: str | None = None
    smtp_auth_username: str | None = None
    smtp_auth_password: Secret | None = None
    smtp_auth_password_file: str | None = None
    smtp_auth_secret: Secret | None = None
    smtp_auth_identity: str | None = None
    smtp_require_tls: bool = True
    slack_api_url: Secret | None = None
    slack_api_url_file: str | None = None
    pagerduty_url: str | None = None
    http_config: HttpConfig | None = None


class BreakerConfig(Strict):
    """A circuit breaker per endpoint (receiver integration)."""

    failure_ratio: float = Field(0.5, gt=0, le=1, description="opens at this share of failed calls")
    window: Duration = Field(60.0, description="over the calls of this sliding window")
    min_calls: int = Field(5, ge=1, description="with at least this many calls in the window")
    open_for: Duration = Field(60.0, description="stays open this long, then half-opens")
    trial_calls: int = Field(3, ge=1, description="calls let through half-open; all must succeed to close")


class OutboxConfig(Strict):
    """Delivery of notifications: retries, give-up, concurrency, retention of delivered rows."""

    initial_backoff: Duration = Field(1.0, description="the first retry waits up to this long")
    max_backoff: Duration = Field(300.0, description="a retry never waits longer than this")
    max_attempts: int = Field(20, ge=1, description="attempts before a notification is a dead letter")
    max_age: Duration = Field(3600.0, description="time since its first attempt before a dead letter")
    max_in_flight: int = Field(32, ge=1, description="deliveries under way at once, in all")
    max_in_flight_per_endpoint: int = Field(8, ge=1, description="deliveries under way at once per endpoint")
    attempt_timeout: Duration = Field(30.0, description="an attempt that takes longer has failed (retryable)")
    keep_finished: Duration = Field(7 * 86400.0, description="delivered and skipped rows kept this long")
    breaker: BreakerConfig = BreakerConfig()

    @field_validator("initial_backoff", "attempt_timeout")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be longer than 0s")
        return v


class Receiver(Strict):
    name: str
    slack_configs: list[SlackConfig] = Field(default_factory=list)
    discord_configs: list[DiscordConfig] = Field(default_factory=list)
    email_configs: list[EmailConfig] = Field(default_factory=list)
    webhook_configs: list[WebhookConfig] = Field(default_factory=list)
    pagerduty_configs: list[PagerDutyConfig] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a receiver needs a name")
        return v

    def integrations(self) -> list[tuple[str, Integration]]:
        """(kind, config) of every integration, in a stable order; kind is slack | discord | email |
        webhook | pagerduty."""
        out: list[tuple[str, Integration]] = []
        for kind in ("slack", "discord", "email", "webhook", "pagerduty"):
            out += [(kind, c) for c in getattr(self, f"{kind}_configs")]
        return out


IntegrationKind = Literal["slack", "discord", "email", "webhook", "pagerduty"]
