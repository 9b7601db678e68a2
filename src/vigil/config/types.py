"""Value types used across the configuration schema: durations, byte sizes, secrets."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, SecretStr
from pydantic_core import PydanticCustomError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: Any) -> float:
    """'15s', '5m', '1h30m', '2d', '250ms' or a plain number of seconds -> seconds (float)."""
    if isinstance(value, bool):
        raise PydanticCustomError("duration", "expected a duration like 15s, 5m or 1h; found {found}",
                                  {"found": repr(value)})
    if isinstance(value, (int, float)):
        if value < 0:
            raise PydanticCustomError("duration", "a duration cannot be negative; found {found}",
                                      {"found": repr(value)})
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        pos, total = 0, 0.0
        for m in _DURATION_PART.finditer(text):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
            pos = m.end()
        if text and pos == len(text):
            return total
    raise PydanticCustomError(
        "duration", "expected a duration like 15s, 5m, 1h30m or 2d; found {found}", {"found": repr(value)}
    )


def format_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def check_regexes(patterns: list[str]) -> list[str]:
    """Every pattern must compile; the error names the bad one."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
    return patterns


Regexes = Annotated[list[str], AfterValidator(check_regexes)]
"""A list of regular expressions, each checked at start-up."""

Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A duration in seconds, written in the config as 15s, 5m, 1h, 2d..."""

Secret = SecretStr
"""A value that never prints: str() and repr() show '**********'; use .get_secret_value()."""


class Strict(BaseModel):
    """Base of every config model: unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
