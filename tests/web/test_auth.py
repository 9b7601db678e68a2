"""Every way of presenting a key, right and wrong; and the keys the config accepts."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import API_KEY
from vigil.config import ConfigError, parse_config


@pytest.mark.parametrize("headers,status", [
    ({}, 401),
    ({"Authorization": f"Bearer {API_KEY}"}, 200),
    ({"Authorization": f"bearer {API_KEY}"}, 200),
    ({"Authorization": f"BEARER {API_KEY}"}, 200),
    ({"Authorization": f"Bearer  {API_KEY}  "}, 200),
    ({"X-API-Key": API_KEY}, 200),
    ({"X-API-Key": f"{API_KEY} "}, 200),  # stripped, as Bearer is
    ({"X-API-Key": f"\t{API_KEY}\t"}, 200),
    ({"x-api-key": API_KEY}, 200),
    ({"Authorization": "Bearer wrong"}, 401),
    ({"Authorization": f"Bearer {API_KEY}x"}, 401),
    ({"Authorization": f"Bearer {API_KEY[:-1]}"}, 401),
    ({"Authorization": f"Basic {API_KEY}"}, 401),
    ({"Authorization": API_KEY}, 401),
    ({"Authorization": "Bearer "}, 401),
    ({"X-API-Key": ""}, 401),
    ({"X-API-Key": "   "}, 401),
    ({"X-API-Key": API_KEY.upper()}, 401),
    ({"Authorization": "Bearer wrong", "X-API-Key": API_KEY}, 401),  # a Bearer header is what counts
    ({"Authorization": "Basic x", "X-API-Key": API_KEY}, 200),
])
async def test_auth_matrix(api, headers: dict, status: int) -> None:
    client, _ = api
    async with httpx.AsyncClient(transport=client._transport, base_url="http://vigil.test") as anon:
        for method, path in (("GET", "/api/v1/services"), ("GET", "/api/v1/events"),
                             ("POST", "/api/v1/samples")):
            r = await anon.request(method, path, headers=headers, json={"samples": []})
            assert r.status_code == status, (method, path, r.text)
            if status == 401:
                assert r.headers["WWW-Authenticate"] == "Bearer"
                assert API_KEY not in r.text and "wrong" not in r.text


async def test_non_ascii_key_bytes_do_not_break_auth(api) -> None:
    client, _ = api
    async with httpx.AsyncClient(transport=client._transport, base_url="http://vigil.test") as anon:
        r = await anon.get("/api/v1/services", headers={"X-API-Key": "clé".encode()})
        assert r.status_code == 401


@pytest.mark.parametrize("key,message", [
    ('""', "at least 16 characters"),
    ("x", "at least 16 characters"),
    ("short-key", "found 9 characters"),
    ('"   0123456789abcdef0"', "cannot start or end with whitespace"),
    ('"0123456789abcdef0 "', "cannot start or end with whitespace"),
])
def test_config_refuses_empty_short_and_padded_keys(key: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(f"server:\n  api_keys:\n    - name: a\n      key: {key}\n", env={})
    text = str(err.value)
    assert "server.api_keys[0].key" in text and message in text
    assert key.strip('"').strip() not in text or not key.strip('"').strip()  # the key never prints


def test_config_accepts_a_generated_key() -> None:
    cfg = parse_config("server:\n  api_keys:\n    - name: a\n      key: 0123456789abcdef\n", env={})
    assert cfg.server.api_keys[0].key.get_secret_value() == "0123456789abcdef"
