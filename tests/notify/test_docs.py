"""docs/notifications.md names every receiver, global and outbox key (tests/docs checks the keys
reachable from vigil.yaml's root; these models join it when `alerting:` is wired)."""

from __future__ import annotations

import re
from pathlib import Path

from vigil.config import receivers as r
from vigil.notify import NOTIFIERS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text()
MODELS = [
    r.HttpConfig,
    r.Integration,
    r.SlackConfig,
    r.DiscordConfig,
    r.EmailConfig,
    r.WebhookConfig,
    r.PagerDutyConfig,
    r.Receiver,
    r.GlobalConfig,
    r.OutboxConfig,
    r.BreakerConfig,
]


def test_every_notification_key_is_documented():
    missing = sorted(
        {
            f"{m.__name__}.{k}"
            for m in MODELS
            for k in m.model_fields
            if not re.search(rf"\b{re.escape(k)}\b", DOC)
        }
    )
    assert not missing, f"keys not in docs/notifications.md: {missing}"


def test_every_notifier_kind_is_documented():
    assert all(f"`{kind}`" in DOC for kind in NOTIFIERS.kinds())
