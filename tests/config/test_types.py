from __future__ import annotations

import pytest
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from vigil.config import parse_config, parse_duration
from vigil.config.types import format_duration


@pytest.mark.parametrize("text,seconds", [
    ("15s", 15), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("250ms", 0.25), ("1w", 604800),
    (10, 10), (2.5, 2.5), ("1.5h", 5400),
])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5 minutes", "-5s", "5x", "m5", True, -1, "1h 30m"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(PydanticCustomError, match="duration"):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for s in (15, 300, 3600, 86400, 90):
        assert parse_duration(format_duration(s)) == s


def test_env_interpolation_and_defaults() -> None:
    text = ("server:\n  api_keys:\n    - name: a\n      key: ${K}\n    - name: b\n"
            "      key: ${MISSING:-dflt-0123456789ab}\n")
    cfg = parse_config(text, env={"K": "s3cret-0123456789"})
    assert cfg.server.api_keys[0].key.get_secret_value() == "s3cret-0123456789"
    assert cfg.server.api_keys[1].key.get_secret_value() == "dflt-0123456789ab"


def test_secrets_never_print() -> None:
    cfg = parse_config("server:\n  api_keys:\n    - name: a\n      key: hunter2-hunter2-hunter2\n", env={})
    assert "hunter2-hunter2-hunter2" not in repr(cfg) and "hunter2-hunter2-hunter2" not in str(cfg)
    assert "hunter2-hunter2-hunter2" not in cfg.model_dump_json()


def test_dollar_escape() -> None:
    cfg = parse_config("services:\n  - name: w\n    description: costs $$5\n", env={})
    assert cfg.services[0].description == "costs $5"


def test_config_is_immutable() -> None:
    cfg = parse_config("services:\n  - name: w\n", env={})
    with pytest.raises(ValidationError):
        cfg.services[0].name = "x"  # type: ignore[misc]


def test_probe_names_are_unique_per_service() -> None:
    cfg = parse_config("services:\n  - name: w\n    probes:\n"
                       "      - {kind: tcp, host: h, port: 1}\n      - {kind: tcp, host: h, port: 2}\n"
                       "      - {kind: http, url: 'http://h/', name: web}\n", env={})
    assert cfg.services[0].probe_names() == ["tcp", "tcp-2", "web"]
