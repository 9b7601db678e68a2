"""The OpenAPI request body of POST /api/v1/samples: the endpoint reads its body itself (to cap and
stream it), so FastAPI cannot derive this; it is written out here, for both kinds of body."""

from __future__ import annotations

from typing import Any

from vigil.model import MAX_LABEL_VALUE_CHARS, MAX_LABELS, MAX_NAME_CHARS
from vigil.web.timeparse import MAX_TS

_NAME = {"type": "string", "maxLength": MAX_NAME_CHARS, "pattern": "^[a-zA-Z_:][a-zA-Z0-9_:]*$",
         "description": "metric name"}
_NUMBER = {"type": "number", "description": "a finite number"}
_TS = {"type": "number", "minimum": 0, "maximum": MAX_TS,
       "description": "seconds since the epoch (optional: defaults to now)"}

_BY_SERIES = {
    "type": "object", "additionalProperties": False, "required": ["series", "value"],
    "properties": {"series": {"type": "string", "description": 'the series, e.g. queue_depth{service="worker"}',
                              "example": 'queue_depth{service="worker"}'},
                   "ts": _TS, "value": _NUMBER},
}
_BY_NAME = {
    "type": "object", "additionalProperties": False, "required": ["name", "value"],
    "properties": {"name": _NAME,
                   "labels": {"type": "object", "maxProperties": MAX_LABELS,
                              "additionalProperties": {"type": "string", "maxLength": MAX_LABEL_VALUE_CHARS}},
                   "ts": _TS, "value": _NUMBER},
}
BATCH_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["samples"], "additionalProperties": False,
    "properties": {"samples": {"type": "array", "maxItems": 1_000_000, "items": {"oneOf": [_BY_SERIES, _BY_NAME]}}},
    "example": {"samples": [{"series": 'queue_depth{service="worker"}', "ts": 1700000000.0, "value": 17},
                            {"name": "queue_depth", "labels": {"service": "worker"}, "value": 19}]},
}
_TEXT = {"type": "string", "description": "one sample per line: name{labels} value [timestamp]",
         "example": 'queue_depth{service="worker"} 17 1700000000000\n'}

SAMPLES_REQUEST_BODY: dict[str, Any] = {"requestBody": {
    "required": True,
    "description": "A JSON batch, or Prometheus text exposition (timestamps in milliseconds), or OpenMetrics "
                   "text (timestamps in seconds). At most 64 MiB.",
    "content": {"application/json": {"schema": BATCH_SCHEMA},
                "text/plain": {"schema": {**_TEXT, "description": _TEXT["description"] + " (ms)"}},
                "application/openmetrics-text": {"schema": {**_TEXT, "example": "queue_depth 17 1700000000\n# EOF\n"}}},
}}
