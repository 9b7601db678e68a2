"""Masking of secrets in anything vigil prints: banners, configuration errors, probe details, logs.

One function, `mask`, is what every printer uses. It hides credentials in URLs
(`postgresql://vig:pw@db/x` -> `postgresql://vig:***@db/x`, `https://token@host` -> `https://***@host`),
the values of secret-looking query parameters (`?password=...`, `&token=...`) and every value a
caller knows to be secret (the configuration's keys, header values and URL passwords).

The patterns are linear: masking runs on log lines that may carry text from monitored targets."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any, get_args, get_origin
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, SecretStr

MASK = "***"
# userinfo of a URL: after "://", up to the last "@" before a "/" or whitespace (a password may hold "@").
_USERINFO = re.compile(r"://([^/\s]*)@")
_SECRET_PARAM = re.compile(
    r"(?i)\b(password|passwd|pwd|token|access_token|api_key|apikey|secret)=([^&\s'\"]+)")
_SHORTEST_MASKED = 3  # shorter "secrets" (a 1-character key) would mask every digit in a message
_TOKEN_USER = 17  # a user part this long without a password is a token (https://TOKEN@host), not a name


def _userinfo(m: re.Match[str]) -> str:
    user, sep, _ = m.group(1).partition(":")
    if not sep:
        return m.group(0) if len(user) < _TOKEN_USER else f"://{MASK}@"
    return f"://{user}:{MASK}@"


def mask_url(url: str) -> str:
    """The URL as it may be shown: credentials replaced by ***."""
    return mask(url)


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with URL credentials, secret query parameters and each of `secrets` replaced by ***."""
    if "@" in text:
        text = _USERINFO.sub(_userinfo, text)
    if "=" in text:
        text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)
    for secret in sorted(set(secrets), key=len, reverse=True):  # longest first: one may contain another
        if len(secret) >= _SHORTEST_MASKED and secret in text:
            text = text.replace(secret, MASK)
    return text


def _raw_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:  # e.g. an invalid port: not a URL we can take apart
        return None


def secret_values(model: Any) -> set[str]:
    """Every secret held by a configuration (or any part of it): SecretStr values and passwords in
    URLs, raw and percent-decoded, so that a library quoting either form is masked."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            found.add(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif isinstance(value, str) and "://" in value and "@" in value:
            raw = _raw_password(value)
            if raw:
                found.update({raw, unquote(raw)})

    walk(model)
    return {s for s in found if s}


class Redactor:
    """`mask` with a fixed set of known secrets (those of the running configuration)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = frozenset(s for s in secrets if s)

    def __call__(self, text: str) -> str:
        return mask(text, self.secrets)


class MaskingFilter(logging.Filter):
    """Masks each record's message and traceback before any handler formats it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: show it unformatted rather than drop the record
            message = str(record.msg)
        record.msg, record.args = self.redactor(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        return True


# Loggers that keep handlers of their own (uvicorn's) get the filter on the logger itself.
_OWN_HANDLER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def install_log_masking(redactor: Redactor) -> MaskingFilter:
    """Mask every record that reaches the root logger's handlers, the last-resort handler (a
    process that configured no logging) or uvicorn's loggers. Replaces a filter installed before."""
    filt = MaskingFilter(redactor)
    targets: list[logging.Filterer] = list(logging.getLogger().handlers)
    if logging.lastResort is not None:
        targets.append(logging.lastResort)
    targets += [logging.getLogger(name) for name in _OWN_HANDLER_LOGGERS]
    for target in targets:
        if target is None:
            continue
        for old in [f for f in target.filters if isinstance(f, MaskingFilter)]:
            target.removeFilter(old)
        target.addFilter(filt)
    return filt


def _holds_secret(annotation: Any) -> bool:
    """A SecretStr, or a container (list, dict, union) of them; a model is judged field by field."""
    if annotation is SecretStr:
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return False
    return any(_holds_secret(arg) for arg in get_args(annotation))


def secret_paths(model: type[BaseModel], data: Any) -> set[tuple[str | int, ...]]:
    """Key paths of `data` (as read from a file, before validation) where `model` expects a secret
    or a container of secrets: what a configuration error must never echo."""
    out: set[tuple[str | int, ...]] = set()

    def visit(annotation: Any, value: Any, path: tuple[str | int, ...]) -> None:
        if _holds_secret(annotation):
            out.add(path)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if isinstance(value, dict):
                for name, field in annotation.model_fields.items():
                    if name in value:
                        visit(field.annotation, value[name], path + (name,))
        elif get_origin(annotation) is list and isinstance(value, list):
            for i, item in enumerate(value):
                visit(get_args(annotation)[0], item, path + (i,))
        elif get_origin(annotation) is dict and isinstance(value, dict):
            for key, item in value.items():
                visit(get_args(annotation)[1], item, path + (key,))
        else:  # Annotated, Union, Optional: whichever member the value turns out to be
            for arg in get_args(annotation):
                visit(arg, value, path)

    visit(model, data, ())
    return out
