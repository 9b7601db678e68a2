"""vigil.notify: notifiers (slack, discord, email, webhook, pagerduty) behind the `Notifier` protocol,
built from receiver configs in Alertmanager's vocabulary, and the durable outbox that delivers
through them (retries, backoff, circuit breakers, dead letters, resolved-after-firing)."""

from __future__ import annotations

from vigil.config.receivers import GlobalConfig, Receiver
from vigil.notify.base import Notifier, NotifierBase
from vigil.registry import Registry

NOTIFIERS: Registry[Notifier] = Registry("notifier", {
    "slack": "vigil.notify.slack:SlackNotifier",
    "discord": "vigil.notify.discord:DiscordNotifier",
    "email": "vigil.notify.email:EmailNotifier",
    "webhook": "vigil.notify.webhook:WebhookNotifier",
    "pagerduty": "vigil.notify.pagerduty:PagerDutyNotifier",
})


def build_notifiers(receiver: Receiver, global_config: GlobalConfig | None = None,
                    external_url: str = "") -> list[Notifier]:
    """One notifier per integration of `receiver`, in Receiver.integrations() order. A config that
    cannot work (no URL, an unreadable *_file, bad tls_config) raises ConfigError naming the
    integration as Alertmanager does (`slack_configs[0]`)."""
    from vigil.notify.http import ConfigError

    out: list[Notifier] = []
    counts: dict[str, int] = {}
    for kind, config in receiver.integrations():
        i = counts.get(kind, 0)
        counts[kind] = i + 1
        try:
            out.append(NOTIFIERS.create(kind, config, global_config, external_url))
        except ConfigError as exc:
            raise ConfigError(f"receiver {receiver.name!r} {kind}_configs[{i}]: {exc}") from None
    return out


def integration_names(notifiers: list[Notifier]) -> list[str]:
    """`kind[i]` for each notifier, counted per kind (Alertmanager's integration names)."""
    counts: dict[str, int] = {}
    names = []
    for n in notifiers:
        i = counts.get(n.kind, 0)
        counts[n.kind] = i + 1
        names.append(f"{n.kind}[{i}]")
    return names


__all__ = ["NOTIFIERS", "Notifier", "NotifierBase", "build_notifiers", "integration_names"]
