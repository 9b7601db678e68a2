"""Times in API queries: epoch seconds, RFC 3339, 'now', or relative to now ('-1h', '-7d')."""

from __future__ import annotations

from datetime import datetime, timezone

from vigil.config.types import parse_duration


def parse_time(text: str, now: float) -> float:
    text = text.strip()
    if text == "now":
        return now
    if text.startswith("-"):
        try:
            return now - parse_duration(text[1:])
        except Exception:
            raise ValueError(f"invalid relative time {text!r}; use e.g. -1h or -7d") from None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"invalid time {text!r}; use epoch seconds, RFC 3339, 'now' or '-1h'") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()
