"""OpenAPI request bodies of the alert-ingest endpoints: they read their bodies themselves (to cap
them and answer as the system they stand in for), so FastAPI cannot derive these."""

from __future__ import annotations

from typing import Any

from vigil.sources.alerts_in import MAX_ALERTS, MAX_LABELS, MAX_NAME, MAX_VALUE

_LABELS = {"type": "object", "maxProperties": MAX_LABELS,
           "propertyNames": {"pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$", "maxLength": MAX_NAME},
           "additionalProperties": {"type": "string", "maxLength": MAX_VALUE}}
_TIME = {"type": "string", "format": "date-time", "description": "RFC 3339"}

POSTABLE_ALERT = {"type": "object", "required": ["labels"], "additionalProperties": False, "properties": {
    "labels": {**_LABELS, "minProperties": 1}, "annotations": _LABELS, "startsAt": _TIME, "endsAt": _TIME,
    "generatorURL": {"type": "string", "maxLength": MAX_VALUE}}}

WEBHOOK_ALERT = {"type": "object", "required": ["status", "labels"], "properties": {
    "status": {"enum": ["firing", "resolved"]}, "labels": {**_LABELS, "minProperties": 1}, "annotations": _LABELS,
    "startsAt": _TIME, "endsAt": _TIME, "generatorURL": {"type": "string"}, "fingerprint": {"type": "string"}}}

PAGERDUTY_EVENT = {"type": "object", "required": ["event_action"], "properties": {
    "routing_key": {"type": "string"}, "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
    "dedup_key": {"type": "string", "minLength": 1, "maxLength": 255},
    "payload": {"type": "object", "required": ["summary", "source", "severity"], "properties": {
        "summary": {"type": "string", "maxLength": MAX_VALUE}, "source": {"type": "string", "maxLength": MAX_NAME},
        "severity": {"enum": ["critical", "error", "warning", "info"]}, "timestamp": _TIME,
        "component": {"type": "string"}, "group": {"type": "string"}, "class": {"type": "string"},
        "custom_details": {"type": "object"}}}}}

GENERIC_ALERT = {"type": "object", "required": ["name", "service"], "additionalProperties": False, "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
    "service": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
    "severity": {"enum": ["critical", "high", "warning", "info"]},
    "summary": {"type": "string", "maxLength": MAX_VALUE},
    "status": {"enum": ["firing", "resolved"]}, "labels": _LABELS, "annotations": _LABELS,
    "starts_at": {"type": ["number", "string"]}, "ends_at": {"type": ["number", "string", "null"]},
    "generator_url": {"type": "string"}}}


def body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def listed(item: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    array = {"type": "array", "maxItems": MAX_ALERTS, "items": item}
    return array if key is None else {"type": "object", "required": [key], "properties": {key: array}}


WEBHOOK = {"type": "object", "required": ["version", "groupKey", "alerts"], "properties": {
    "version": {"const": "4"}, "groupKey": {"type": "string"},
    "truncatedAlerts": {"type": "integer", "minimum": 0, "maximum": 10**9},
    "status": {"enum": ["firing", "resolved"]}, "receiver": {"type": "string"}, "groupLabels": _LABELS,
    "commonLabels": _LABELS, "commonAnnotations": _LABELS, "externalURL": {"type": "string"},
    "alerts": {"type": "array", "maxItems": MAX_ALERTS, "items": WEBHOOK_ALERT}}}

PAGERDUTY_ANSWER = {"type": "object", "required": ["status", "message"], "properties": {
    "status": {"type": "string"}, "message": {"type": "string"}, "dedup_key": {"type": "string"},
    "errors": {"type": "array"}}}
