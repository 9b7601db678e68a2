"""A webhook body template: JSON with `${name}` placeholders, each replaced by the JSON of its value
(strings come quoted), so `{"text": ${title}, "n": ${alert_count}}` is valid JSON whatever the text.
Checked when the configuration loads: every name must be known and the result must be JSON."""

from __future__ import annotations

import json
import string
from typing import Any

# Every name a template may use, with a sample value of its type (used to check a template).
VARIABLES: dict[str, Any] = {
    "status": "firing", "receiver": "team", "group_key": "{}:{alertname=\"X\"}", "key": "k",
    "title": "[FIRING] X", "text": "what is wrong", "severity": "critical", "services": ["svc"],
    "alert_count": 1, "firing_count": 1, "resolved_count": 0, "truncated_alerts": 0,
    "starts_at": "2024-01-01T00:00:00Z", "ends_at": "0001-01-01T00:00:00Z", "external_url": "",
    "group_labels": {}, "common_labels": {}, "common_annotations": {}, "alerts": [],
    "incident": None, "incident_id": "", "incident_url": "",
}


class TemplateError(ValueError):
    pass


def check_template(template: str) -> None:
    """Raise TemplateError naming what is wrong: an unknown name, a stray `$`, or not JSON."""
    parsed = string.Template(template)
    if not parsed.is_valid():
        raise TemplateError("body_template has a `$` that is not a ${name} placeholder; write $$ for a "
                            "literal dollar sign")
    names = parsed.get_identifiers()
    unknown = sorted(set(names) - set(VARIABLES))
    if unknown:
        raise TemplateError(f"body_template uses unknown name(s) {', '.join(unknown)}; known: "
                            f"{', '.join(sorted(VARIABLES))}")
    try:
        json.loads(render_template(template, VARIABLES))
    except (ValueError, KeyError) as exc:
        raise TemplateError(f"body_template does not give JSON: {exc}; write placeholders unquoted, "
                            'e.g. {"text": ${title}}') from None


def render_template(template: str, values: dict[str, Any]) -> bytes:
    encoded = {k: json.dumps(v, ensure_ascii=False, default=str) for k, v in values.items()}
    return string.Template(template).substitute(encoded).encode()
