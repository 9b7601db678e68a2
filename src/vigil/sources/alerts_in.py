"""Alerts from outside, in the formats the ecosystem already speaks, turned into vigil Alerts:

- Alertmanager's own API, `POST /api/v2/alerts` (what Prometheus sends): a list of postable alerts
  with `labels`, `annotations`, `startsAt`, `endsAt`, `generatorURL`. As Alertmanager does, an alert
  without `endsAt` fires until `resolve_timeout` after it was last received (Prometheus re-sends
  firing alerts every minute); one whose `endsAt` has passed is resolved; valid alerts of a batch are
  taken even when others are invalid (the sender drops a refused batch; it must not lose the good ones).
- The Alertmanager webhook, payload version 4, from an existing Alertmanager: each alert's `status`
  says firing or resolved; a firing one has no timeout (the sender repeats it only every
  repeat_interval); `truncatedAlerts` is recorded.
- PagerDuty Events API v2: `trigger`, `acknowledge`, `resolve` by `dedup_key`.
- A generic JSON shape, vigil's own: refused whole, naming each bad item.

Everything here is parsing and checking, in linear time, with bounded sizes; the engine takes the
result through `Engine.submit_alerts` into the same queue as everything else."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vigil.model import Alert, AlertStatus, Event
from vigil.web.timeparse import MAX_TS

MAX_ALERTS = 10_000  # per request
MAX_LABELS = 64
MAX_NAME = 256
MAX_VALUE = 4096
DEFAULT_RESOLVE_TIMEOUT_S = 300.0  # Alertmanager's global.resolve_timeout default
_ZERO_TIME = -62135596800.0  # Go's zero time, 0001-01-01T00:00:00Z: "not set"
SEVERITIES = ("critical", "warning", "info")


class AlertPayloadError(Exception):
    """What is wrong with a payload: a message and one entry per bad item (index, field, error)."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message, self.errors = message, errors or []


@dataclass
class Parsed:
    alerts: list[Alert] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)  # items left out (Alertmanager API only)
    events: list[Event] = field(default_factory=list)  # what else to record (truncated groups, acks)
    acks: list[str] = field(default_factory=list)  # fingerprints acknowledged at the source (PagerDuty)


# ------------------------------------------------------------------------------------------ checks

def _label_name_ok(name: str) -> bool:
    """[a-zA-Z_][a-zA-Z0-9_]*, checked without a regex (linear, whatever the input)."""
    if not name or len(name) > MAX_NAME or not (name[0].isascii() and (name[0].isalpha() or name[0] == "_")):
        return False
    return all(c.isascii() and (c.isalnum() or c == "_") for c in name)


def _string_map(value: Any, what: str, *, names: bool) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be an object of strings")
    if len(value) > MAX_LABELS:
        raise ValueError(f"{what}: {len(value)} entries, at most {MAX_LABELS}")
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(v, str):
            raise ValueError(f"{what}.{str(k)[:MAX_NAME]} must be a string; found {type(v).__name__}")
        if names and not _label_name_ok(k):
            raise ValueError(f"{what}: invalid label name {str(k)[:MAX_NAME]!r}: use letters, digits and '_', "
                             f"not starting with a digit")
        if len(v) > MAX_VALUE:
            raise ValueError(f"{what}.{k}: value of {len(v)} characters, at most {MAX_VALUE}")
        if names and v == "":
            continue  # Alertmanager drops empty labels before it fingerprints an alert
        out[k] = v
    return out


def parse_time(value: Any, what: str) -> float | None:
    """RFC 3339 (as Go writes it, nanoseconds and `Z` included) or epoch seconds -> epoch seconds;
    None for absent, empty or Go's zero time."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{what} must be an RFC 3339 time; found {value!r}")
    if isinstance(value, (int, float)):
        t = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > 64:
            raise ValueError(f"{what} is not an RFC 3339 time")
        try:
            dt = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise ValueError(f"{what} must be an RFC 3339 time like 2026-12-01T10:00:00Z; found {text!r}") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        t = dt.timestamp()
    else:
        raise ValueError(f"{what} must be an RFC 3339 time; found {type(value).__name__}")
    if not math.isfinite(t):
        raise ValueError(f"{what} must be a finite time")
    if t > MAX_TS:
        raise ValueError(f"{what} is after the year 5138; send seconds since the epoch (not milliseconds) "
                         "or an RFC 3339 time")
    return None if t <= _ZERO_TIME + 1 else t


def _items(doc: Any, key: str | None) -> list[Any]:
    items = doc.get(key) if key is not None and isinstance(doc, dict) else doc
    if not isinstance(items, list):
        shape = f'an object {{"{key}": [...]}}' if key else "a JSON list of alerts"
        raise AlertPayloadError(f"expected {shape}")
    if len(items) > MAX_ALERTS:
        raise AlertPayloadError(f"too many alerts: {len(items)}, at most {MAX_ALERTS} per request")
    return items


# ------------------------------------------------------------------------- Alertmanager API v2

def parse_alertmanager_api(doc: Any, now: float, resolve_timeout: float = DEFAULT_RESOLVE_TIMEOUT_S) -> Parsed:
    out = Parsed()
    for i, item in enumerate(_items(doc, None)):
        try:
            out.alerts.append(_postable(item, now, resolve_timeout))
        except ValueError as exc:
            out.errors.append({"index": i, "error": str(exc)})
    return out


def _postable(item: Any, now: float, resolve_timeout: float) -> Alert:
    if not isinstance(item, dict):
        raise ValueError("each alert must be an object with labels")
    unknown = set(item) - {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(map(str, unknown)))[:200]}")
    labels = _string_map(item.get("labels"), "labels", names=True)
    if not labels:
        raise ValueError("labels: at least one label is required (e.g. alertname)")
    annotations = _string_map(item.get("annotations"), "annotations", names=True)
    starts, ends = parse_time(item.get("startsAt"), "startsAt"), parse_time(item.get("endsAt"), "endsAt")
    if starts is None:
        starts = ends if ends is not None else now
    timeout = ends is None
    if ends is None:
        ends = now + resolve_timeout
    if ends < starts:
        raise ValueError("endsAt is before startsAt")
    url = item.get("generatorURL") or ""
    if not isinstance(url, str) or len(url) > MAX_VALUE:
        raise ValueError("generatorURL must be a string (a URL)")
    status = AlertStatus.RESOLVED if ends <= now else AlertStatus.FIRING
    return Alert(labels, status, starts, ends, annotations, "ingest:alertmanager-api",
                 generator_url=url, timeout=timeout)


# ------------------------------------------------------------------------ Alertmanager webhook

def parse_alertmanager_webhook(doc: Any, now: float) -> Parsed:
    if not isinstance(doc, dict):
        raise AlertPayloadError("expected an Alertmanager webhook payload (an object with version and alerts)")
    if str(doc.get("version", "")) != "4":
        raise AlertPayloadError(f"version must be \"4\" (Alertmanager's webhook payload); found "
                                f"{str(doc.get('version'))[:20]!r}")
    group_key = doc.get("groupKey")
    if not isinstance(group_key, str):
        raise AlertPayloadError("groupKey must be a string")
    out, errors = Parsed(), []
    for i, item in enumerate(_items(doc, "alerts")):
        try:
            out.alerts.append(_webhook_alert(item, now, group_key))
        except ValueError as exc:
            errors.append({"index": i, "error": str(exc)})
    if errors:
        raise AlertPayloadError(f"{len(errors)} invalid alert(s); nothing was taken", errors)
    truncated = doc.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or not 0 <= truncated <= 10**9:
        raise AlertPayloadError("truncatedAlerts must be a whole number from 0 to 1,000,000,000")
    if truncated:
        out.events.append(Event(now, "ingest", None, f"Alertmanager group {group_key[:200]} left out {truncated} "
                                f"alert(s) (truncatedAlerts): its receiver's max_alerts is lower than the group",
                                {"group_key": group_key, "truncated_alerts": truncated,
                                 "receiver": str(doc.get("receiver", ""))[:MAX_NAME]}))
    return out


def _webhook_alert(item: Any, now: float, group_key: str) -> Alert:
    if not isinstance(item, dict):
        raise ValueError("each alert must be an object")
    labels = _string_map(item.get("labels"), "labels", names=True)
    if not labels:
        raise ValueError("labels: at least one label is required")
    status = item.get("status")
    if status not in ("firing", "resolved"):
        raise ValueError(f'status must be "firing" or "resolved"; found {str(status)[:20]!r}')
    starts = parse_time(item.get("startsAt"), "startsAt") or now
    ends = parse_time(item.get("endsAt"), "endsAt")
    if status == "resolved" and ends is None:
        ends = now
    alert = Alert(labels, AlertStatus(status), starts, ends if status == "resolved" else None,
                  _string_map(item.get("annotations"), "annotations", names=True), "ingest:alertmanager-webhook",
                  {"group_key": group_key}, generator_url=str(item.get("generatorURL") or "")[:MAX_VALUE])
    given = item.get("fingerprint")
    if given is not None and given != alert.fingerprint:
        raise ValueError(f"fingerprint {str(given)[:32]!r} does not match its labels' ({alert.fingerprint})")
    return alert


# ------------------------------------------------------------------------------ PagerDuty v2

PD_SEVERITY = {"critical": "critical", "error": "critical", "warning": "warning", "info": "info"}


def parse_pagerduty(doc: Any, now: float, firing: dict[str, Alert]) -> tuple[Parsed, str]:
    """One Events API v2 event. `firing` maps dedup_key -> the alert it opened (resolve and acknowledge
    name only the key). Returns what to take and the dedup_key (PagerDuty answers with it)."""
    if not isinstance(doc, dict):
        raise AlertPayloadError("expected a PagerDuty Events API v2 event (an object)")
    action = doc.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        raise AlertPayloadError('event_action must be "trigger", "acknowledge" or "resolve"',
                                [{"field": "event_action", "error": f"found {str(action)[:20]!r}"}])
    key = doc.get("dedup_key")
    if key is not None and (not isinstance(key, str) or not key or len(key) > 255):
        raise AlertPayloadError("dedup_key must be a string of 1 to 255 characters")
    out = Parsed()
    if action == "trigger":
        payload = doc.get("payload")
        if not isinstance(payload, dict):
            raise AlertPayloadError("a trigger needs a payload", [{"field": "payload", "error": "missing"}])
        problems = [{"field": f"payload.{f}", "error": "required"} for f in ("summary", "source", "severity")
                    if not isinstance(payload.get(f), str) or not payload.get(f)]
        if problems:
            raise AlertPayloadError("payload is missing required fields", problems)
        severity = PD_SEVERITY.get(payload["severity"])
        if severity is None:
            raise AlertPayloadError("payload.severity must be critical, error, warning or info",
                                    [{"field": "payload.severity", "error": f"found {payload['severity'][:20]!r}"}])
        key = key or hashlib.sha256(repr(sorted(payload.items())).encode()).hexdigest()[:32]
        service = str(payload.get("component") or payload["source"])[:MAX_NAME]
        labels = {"alertname": str(payload.get("class") or "PagerDutyEvent")[:MAX_NAME], "dedup_key": key,
                  "service": service, "severity": severity}
        try:
            starts = parse_time(payload.get("timestamp"), "payload.timestamp")
        except ValueError as exc:
            raise AlertPayloadError("payload.timestamp is not a time",
                                    [{"field": "payload.timestamp", "error": str(exc)}]) from None
        details = payload.get("custom_details")
        alert = Alert(labels, AlertStatus.FIRING, starts or now, None,
                      {"summary": str(payload["summary"])[:MAX_VALUE], "source": str(payload["source"])[:MAX_NAME]},
                      "ingest:pagerduty", {"custom_details": details} if isinstance(details, dict) else {})
        before = firing.get(key)
        if before is not None and before.fingerprint != alert.fingerprint:  # same event, new labels
            out.alerts.append(before.resolve(now, "re-triggered through PagerDuty with other details"))
        out.alerts.append(alert)
        return out, key
    if key is None:
        raise AlertPayloadError(f"{action} needs the dedup_key of the event it refers to",
                                [{"field": "dedup_key", "error": "missing"}])
    opened = firing.get(key)
    if opened is not None:
        if action == "resolve":
            out.alerts.append(opened.resolve(now, "resolved through PagerDuty Events API"))
        else:
            out.acks.append(opened.fingerprint)
            out.events.append(Event(now, "ingest", opened.service or None,
                                    f"{opened.name} ({key}) acknowledged through PagerDuty Events API",
                                    {"fingerprint": opened.fingerprint, "dedup_key": key}))
    return out, key


# ---------------------------------------------------------------------------------- generic

def parse_generic(doc: Any, now: float) -> Parsed:
    """{"alerts": [{"name", "service", "severity", "summary", "status", "labels", "annotations",
    "starts_at", "ends_at"}]}: refused whole if any item is bad."""
    out, errors = Parsed(), []
    for i, item in enumerate(_items(doc, "alerts")):
        try:
            out.alerts.append(_generic(item, now))
        except ValueError as exc:
            errors.append({"index": i, "error": str(exc)})
    if errors:
        raise AlertPayloadError(f"{len(errors)} invalid alert(s); nothing was taken", errors)
    return out


def _generic(item: Any, now: float) -> Alert:
    if not isinstance(item, dict):
        raise ValueError("each alert must be an object with name and service")
    unknown = set(item) - {"name", "service", "severity", "summary", "status", "labels", "annotations",
                           "starts_at", "ends_at", "generator_url"}
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(map(str, unknown)))[:200]}")
    for f in ("name", "service"):
        if not isinstance(item.get(f), str) or not item[f] or len(item[f]) > MAX_NAME:
            raise ValueError(f'"{f}" is required: a string of 1 to {MAX_NAME} characters')
    severity = item.get("severity", "warning")
    if severity not in SEVERITIES:
        raise ValueError(f'"severity" must be one of {", ".join(SEVERITIES)}; found {str(severity)[:20]!r}')
    status = item.get("status", "firing")
    if status not in ("firing", "resolved"):
        raise ValueError(f'"status" must be "firing" or "resolved"; found {str(status)[:20]!r}')
    labels = {**_string_map(item.get("labels"), "labels", names=True), "alertname": item["name"],
              "service": item["service"], "severity": severity}
    annotations = _string_map(item.get("annotations"), "annotations", names=True)
    summary = item.get("summary")
    if summary is not None:
        if not isinstance(summary, str) or len(summary) > MAX_VALUE:
            raise ValueError(f'"summary" must be a string of at most {MAX_VALUE} characters')
        annotations["summary"] = summary
    starts = parse_time(item.get("starts_at"), "starts_at") or now
    ends = parse_time(item.get("ends_at"), "ends_at")
    if status == "resolved":
        ends = ends if ends is not None else now
    elif ends is not None and ends <= now:
        status = "resolved"
    if ends is not None and ends < starts:
        raise ValueError('"ends_at" is before "starts_at"')
    return Alert(labels, AlertStatus(status), starts, ends, annotations, "ingest:generic",
                 generator_url=str(item.get("generator_url") or "")[:MAX_VALUE])
