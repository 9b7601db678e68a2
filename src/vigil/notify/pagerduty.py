"""`pagerduty`: PagerDuty Events API v2, to hand over to an existing pager. A firing notice is a
`trigger`, a resolved one a `resolve`, both with `dedup_key` = SHA-256 of the group key in hex, as
Alertmanager computes it, so a PagerDuty service fed by Alertmanager before keeps its incidents.
Severity: critical -> critical, high/error -> error, warning -> warning, info -> info (PagerDuty's four
words), unless `severity` is set to plain text."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from vigil.config.receivers import GlobalConfig, PagerDutyConfig
from vigil.model import Delivery, Notice
from vigil.notify import render
from vigil.notify.http import ConfigError, HttpNotifier, check_url, secret_or_file
from vigil.notify.webhook import rfc3339

SUMMARY_MAX = 1024  # PagerDuty truncates summaries there; so does Alertmanager
PD_SEVERITY = {"critical": "critical", "high": "error", "error": "error", "warning": "warning",
               "info": "info"}


def dedup_key(group_key: str) -> str:
    """Alertmanager's notify.Key.Hash(): hex SHA-256 of the group key."""
    return hashlib.sha256(group_key.encode()).hexdigest()


class PagerDutyNotifier(HttpNotifier):
    kind = "pagerduty"

    def __init__(self, config: PagerDutyConfig, globals_: GlobalConfig | None = None,
                 external_url: str = "") -> None:
        g = globals_ or GlobalConfig()
        key = secret_or_file(config.routing_key, config.routing_key_file, "routing_key", required=False)
        if key is None and config.service_key is not None:
            key = config.service_key.get_secret_value()  # a v1 key: sent as the routing key of v2
        if not key:
            raise ConfigError("pagerduty_configs: routing_key is missing (set routing_key or "
                              "routing_key_file)")
        self._key = key
        use_global = g.pagerduty_url and "url" not in config.model_fields_set
        self._url = check_url(g.pagerduty_url if use_global and g.pagerduty_url else config.url, "url")
        super().__init__(config.http_config or g.http_config, 0.0, [key])
        self.config = config

    def payload(self, notice: Notice) -> dict[str, Any]:
        c = self.config
        v = render.view(notice)
        summary = render.clip(render.literal(c.description) or v.title, SUMMARY_MAX)
        severity = render.literal(c.severity) or PD_SEVERITY.get(v.severity, "error")
        details: dict[str, Any] = {
            "firing": "\n".join(_lines(v, "firing")), "resolved": "\n".join(_lines(v, "resolved")),
            "num_firing": str(v.firing), "num_resolved": str(v.resolved),
            "services": ", ".join(v.services),
        }
        if v.incident is not None:
            details["incident"] = v.incident.id
            if v.incident.summary:
                details["summary"] = v.incident.summary
            if v.incident.root_cause:
                details["probable_root_cause"] = v.incident.root_cause
        details.update({k: val for k, val in c.details.items() if render.literal(val)})
        pd_payload: dict[str, Any] = {
            "summary": summary, "source": render.literal(c.source) or c.client, "severity": severity,
            "timestamp": rfc3339(v.since if v.since is not None else notice.created_at),
            "custom_details": details,
        }
        for key in ("component", "group"):
            if render.literal(getattr(c, key)):
                pd_payload[key] = getattr(c, key)
        if render.literal(c.class_):
            pd_payload["class"] = c.class_
        links = [{"href": u, "text": t} for t, u in render.all_links(v)]
        body: dict[str, Any] = {
            "routing_key": self._key, "dedup_key": dedup_key(notice.group_key),
            "event_action": "trigger" if v.status == "firing" else "resolve",
            "payload": pd_payload, "client": c.client, "links": links,
        }
        client_url = render.literal(c.client_url) or (v.incident.url if v.incident else "")
        if client_url:
            body["client_url"] = client_url
        return body

    async def send(self, notice: Notice) -> Delivery:
        return await self.post_json(self._url, orjson.dumps(self.payload(notice)), notice.key)


def _lines(v: render.View, status: str) -> list[str]:
    return [render.line_text(line) for line in v.lines if line.status == status]
