"""`webhook`: a JSON POST with Alertmanager's webhook payload, version 4, so any consumer written for
Alertmanager works unchanged; or a `body_template` of vigil's own (see template.py).

The payload: version, groupKey, truncatedAlerts, status, receiver, groupLabels, commonLabels,
commonAnnotations, externalURL and alerts[] (status, labels, annotations, startsAt, endsAt,
generatorURL, fingerprint). Times are RFC 3339 as Go writes them; an unset endsAt is Go's zero time,
as Alertmanager sends it. With `max_alerts`, the first ones are sent and the rest counted in
truncatedAlerts; status and common labels are those of the alerts sent (Alertmanager does the same)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from vigil.config.receivers import GlobalConfig, WebhookConfig
from vigil.model import Alert, Delivery, Notice, _common
from vigil.notify import render
from vigil.notify.http import HttpNotifier, check_url, secret_or_file
from vigil.notify.template import render_template

GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(ts: float | None) -> str:
    """Seconds since the epoch as Go's RFC3339Nano in UTC (trailing zeros of the fraction dropped)."""
    if ts is None:
        return GO_ZERO_TIME
    t = dt.datetime.fromtimestamp(ts, dt.UTC)
    frac = f"{t.microsecond:06d}".rstrip("0")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def generator_url(a: Alert) -> str:
    url = a.evidence.get("generator_url") or a.evidence.get("generatorURL") or ""
    return url if isinstance(url, str) else ""


def alert_v4(a: Alert) -> dict[str, Any]:
    return {"status": a.status.value, "labels": dict(a.labels), "annotations": dict(a.annotations),
            "startsAt": rfc3339(a.starts_at), "endsAt": rfc3339(a.ends_at),
            "generatorURL": generator_url(a), "fingerprint": a.fingerprint}


def payload_v4(notice: Notice, max_alerts: int = 0, external_url: str = "") -> dict[str, Any]:
    alerts = notice.alerts[:max_alerts] if max_alerts else notice.alerts
    truncated = len(notice.alerts) - len(alerts) + notice.truncated_alerts
    status = "firing" if any(a.firing for a in alerts) else "resolved"
    return {"receiver": notice.receiver, "status": status, "alerts": [alert_v4(a) for a in alerts],
            "groupLabels": dict(notice.group_labels), "commonLabels": _common([a.labels for a in alerts]),
            "commonAnnotations": _common([a.annotations for a in alerts]), "externalURL": external_url,
            "version": "4", "groupKey": notice.group_key, "truncatedAlerts": truncated}


def template_values(notice: Notice, max_alerts: int = 0, external_url: str = "") -> dict[str, Any]:
    """What a body_template can use (template.VARIABLES names each)."""
    v = render.view(notice)
    body = payload_v4(notice, max_alerts, external_url)
    inc = notice.incident or {}
    return {"status": v.status, "receiver": notice.receiver, "group_key": notice.group_key, "key": notice.key,
            "title": v.title, "text": render.text(v), "severity": v.severity, "services": v.services,
            "alert_count": len(notice.alerts), "firing_count": v.firing, "resolved_count": v.resolved,
            "truncated_alerts": body["truncatedAlerts"], "starts_at": rfc3339(v.since),
            "ends_at": rfc3339(v.ended), "external_url": external_url, "group_labels": body["groupLabels"],
            "common_labels": body["commonLabels"], "common_annotations": body["commonAnnotations"],
            "alerts": body["alerts"], "incident": notice.incident, "incident_id": str(inc.get("id", "")),
            "incident_url": str(inc.get("url", ""))}


class WebhookNotifier(HttpNotifier):
    kind = "webhook"

    def __init__(self, config: WebhookConfig, globals_: GlobalConfig | None = None,
                 external_url: str = "") -> None:
        self._url = check_url(secret_or_file(config.url, config.url_file, "url") or "", "url")
        super().__init__(config.http_config or (globals_.http_config if globals_ else None), config.timeout,
                         [self._url])
        self.config = config
        self.external_url = external_url

    def body(self, notice: Notice) -> bytes:
        if self.config.body_template is not None:
            return render_template(self.config.body_template,
                                   template_values(notice, self.config.max_alerts, self.external_url))
        body = payload_v4(notice, self.config.max_alerts, self.external_url)
        remediation = (notice.incident or {}).get("remediation") if notice.kind == "remediation" else None
        if remediation is not None:  # a runbook's notify step: Alertmanager consumers ignore the extra key
            body["vigil"] = {"kind": "remediation", **remediation, "incident": (notice.incident or {}).get("id")}
        return orjson.dumps(body)

    async def send(self, notice: Notice) -> Delivery:
        return await self.post_json(self._url, self.body(notice), notice.key)
