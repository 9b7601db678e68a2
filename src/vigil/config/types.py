"""Value types used across the configuration schema: durations, byte sizes, regexes, secrets."""

from __future__ import annotations

import re
from typing import Annotated, Any, Protocol

import re2
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


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(value: Any) -> int:
    """'32MiB', '512KB', '1GiB' or a plain number of bytes -> bytes. KB, MB and GB are 1024-based,
    as in Prometheus's body_size_limit (KiB, MiB and GiB mean the same)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        m = _SIZE.fullmatch(value.strip())
        if m:
            unit = (m.group(2) or "").upper()[:1]
            return int(float(m.group(1)) * _SIZE_UNITS[unit if unit != "B" else ""])
    raise PydanticCustomError("size", "expected a size like 32MiB, 512KiB or 1GiB; found {found}",
                              {"found": repr(value)})


def format_size(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return f"{size}B"


class Regex(Protocol):
    """A compiled pattern: the part of `re.Pattern` that vigil uses."""

    def search(self, text: str) -> Any: ...

    def fullmatch(self, text: str) -> Any: ...


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # errors are raised and reported with the key; RE2 must not print them too


def compile_regex(pattern: str) -> Regex:
    """Compile an operator's pattern with RE2, whose matching time is linear in the text: these
    patterns meet series names that pushed (user) data chooses, so a pattern like `(a+)+$` must not
    turn a crafted name into minutes of backtracking. RE2 has no backreferences or lookaround."""
    try:
        return re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"invalid regex {pattern!r}: {reason} (RE2 syntax, linear-time: no backreferences "
                         "or lookaround)") from None


def check_regexes(patterns: list[str]) -> list[str]:
    """Every pattern must compile (RE2); the error names the bad one."""
    for pattern in patterns:
        compile_regex(pattern)
    return patterns


Regexes = Annotated[list[str], AfterValidator(check_regexes)]
"""A list of regular expressions, each checked at start-up."""

Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A duration in seconds, written in the config as 15s, 5m, 1h, 2d..."""

ByteSize = Annotated[int, BeforeValidator(parse_size)]
"""A size in bytes, written in the config as 32MiB, 512KiB, 1GiB or a number of bytes."""

Secret = SecretStr
"""A value that never prints: str() and repr() show '**********'; use .get_secret_value()."""


class Strict(BaseModel):
    """Base of every config model: unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
