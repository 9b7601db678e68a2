"""Browser sessions: login, the cookies' attributes, CSRF on state-changing requests, logout, expiry,
tampering, and the signing secret kept in the store across restarts."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import API_KEY, CONFIG
from vigil.app import build_app
from vigil.config import parse_config
from vigil.testing import FakeClock
from vigil.web.session import CSRF_COOKIE, SECRET_STATE_KEY, SESSION_COOKIE, SessionSigner


def anon(client: httpx.AsyncClient, base_url: str = "http://vigil.test") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=client._transport, base_url=base_url)


def set_cookies(r: httpx.Response) -> dict[str, str]:
    """Set-Cookie headers by cookie name, lower-cased for attribute checks."""
    return {h.split("=", 1)[0]: h.lower() for h in r.headers.get_list("set-cookie")}


def cookie_header(value: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={value}"}


async def login(c: httpx.AsyncClient, key: str = API_KEY) -> httpx.Response:
    return await c.post("/api/v1/session", json={"key": key})


async def test_login_sets_both_cookies_and_answers_the_session(api) -> None:
    client, _ = api
    async with anon(client) as c:
        r = await login(c)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["principal"] == "tests" and body["scopes"] == ["admin", "ingest", "operate", "read"]
        assert body["expires_at"] == pytest.approx(1_700_000_000.0 + 12 * 3600)
        cookies = set_cookies(r)
        session, csrf = cookies[SESSION_COOKIE], cookies[CSRF_COOKIE]
        for attr in ("httponly", "samesite=strict", "path=/", "max-age=43200"):
            assert attr in session
        assert "samesite=strict" in csrf and "httponly" not in csrf
        assert "secure" not in session  # plain http: a Secure cookie would never come back
        assert c.cookies[CSRF_COOKIE] == body["csrf_token"]
        assert API_KEY not in c.cookies[SESSION_COOKIE] and API_KEY not in r.text
        me = await c.get("/api/v1/session")
        assert me.status_code == 200 and me.json() == body


async def test_cookies_are_secure_under_tls(api) -> None:
    client, _ = api
    async with anon(client, "https://vigil.test") as c:
        r = await login(c)
        assert r.status_code == 200
        assert all("; secure" in v for v in set_cookies(r).values())


@pytest.mark.parametrize("key", ["wrong-key-0123456789", API_KEY + "x", " ", "x" * 512])
async def test_wrong_key_makes_no_session(api, key: str) -> None:
    client, _ = api
    async with anon(client) as c:
        r = await login(c, key)
        assert r.status_code == 401, r.text
        assert "set-cookie" not in r.headers and (not key.strip() or key not in r.text)
        assert (await c.get("/api/v1/session")).status_code == 401
        assert (await c.get("/api/v1/services")).status_code == 401


async def test_session_reads_without_csrf_but_writes_only_with_it(api) -> None:
    client, _ = api
    async with anon(client) as c:
        token = (await login(c)).json()["csrf_token"]
        assert (await c.get("/api/v1/services")).status_code == 200
        push = {"samples": [{"series": 'm{service="web"}', "value": 1}]}
        for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": token[:-1]}, {"X-CSRF-Token": ""}):
            r = await c.post("/api/v1/samples", json=push, headers=headers)
            assert r.status_code == 403, (headers, r.text)
            assert "X-CSRF-Token" in r.json()["detail"]
        r = await c.post("/api/v1/samples", json=push, headers={"X-CSRF-Token": token})
        assert r.status_code == 200 and r.json() == {"written": 1}
        # DELETE and state-changing routes of other routers are held to the same rule
        assert (await c.delete("/api/v1/silences/1")).status_code == 403
        assert (await c.post("/api/v1/incidents/1/acknowledge", json={})).status_code == 403


async def test_csrf_token_of_another_session_is_refused(api) -> None:
    client, _ = api
    async with anon(client) as first, anon(client) as second:
        await login(first)
        other = (await login(second)).json()["csrf_token"]
        r = await first.post("/api/v1/samples", json={"samples": []}, headers={"X-CSRF-Token": other})
        assert r.status_code == 403


async def test_header_keys_need_no_csrf_even_with_a_cookie(api) -> None:
    client, _ = api
    async with anon(client) as c:
        await login(c)
        r = await c.post("/api/v1/samples", json={"samples": []}, headers={"X-API-Key": API_KEY})
        assert r.status_code == 200
        # a wrong header key is not rescued by a valid cookie
        r = await c.get("/api/v1/services", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401


async def test_logout_clears_cookies_and_ends_the_session(api) -> None:
    client, _ = api
    async with anon(client) as c:
        token = (await login(c)).json()["csrf_token"]
        stolen = c.cookies[SESSION_COOKIE]
        assert (await c.delete("/api/v1/session")).status_code == 403  # CSRF applies to logout too
        r = await c.delete("/api/v1/session", headers={"X-CSRF-Token": token})
        assert r.status_code == 200
        cleared = set_cookies(r)
        assert 'max-age=0' in cleared[SESSION_COOKIE] and 'max-age=0' in cleared[CSRF_COOKIE]
        assert SESSION_COOKIE not in c.cookies
        assert (await c.get("/api/v1/session")).status_code == 401
    async with anon(client) as replay:  # the old cookie, sent again, no longer works
        r = await replay.get("/api/v1/services", headers=cookie_header(stolen))
        assert r.status_code == 401


async def test_session_expires(api, clock: FakeClock) -> None:
    client, _ = api
    async with anon(client) as c:
        await login(c)
        cookie = c.cookies[SESSION_COOKIE]
        clock.set(clock.now() + 12 * 3600 - 1)
        assert (await c.get("/api/v1/services", headers=cookie_header(cookie))).status_code == 200
        clock.set(clock.now() + 2)
        r = await c.get("/api/v1/services", headers=cookie_header(cookie))
        assert r.status_code == 401 and "expired" in r.json()["detail"]


@pytest.mark.parametrize("mangle", [
    lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"),  # signature altered
    lambda v: "e30" + v[3:],  # payload altered
    lambda v: v.replace(".", ""),
    lambda v: v + "." + v,
    lambda v: "x" * 5000,
    lambda v: "",
])
async def test_tampered_cookie_is_refused(api, mangle) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    async with anon(client) as c:
        await login(c)
        forged = mangle(c.cookies[SESSION_COOKIE])
    async with anon(client) as d:
        r = await d.get("/api/v1/services", headers=cookie_header(forged))
        assert r.status_code == 401


async def test_secret_is_kept_in_the_store_so_sessions_survive_a_restart(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = parse_config(CONFIG.format(db=tmp_path / "vigil.db"), env={})
    clock = FakeClock(start=1_700_000_000.0)
    app, engine = build_app(cfg, clock=clock, collectors=[])
    await engine.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil.test") as c:
            assert (await login(c)).status_code == 200
            cookie = c.cookies[SESSION_COOKIE]
    finally:
        await engine.stop()
        engine.store.close()
    app2, engine2 = build_app(cfg, clock=clock, collectors=[])
    await engine2.start()
    try:
        secret = engine2.store.load_state(SECRET_STATE_KEY)
        assert secret is not None and len(secret) == 32
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app2), base_url="http://vigil.test") as c:
            assert (await c.get("/api/v1/session", headers=cookie_header(cookie))).status_code == 200
    finally:
        await engine2.stop()
        engine2.store.close()
    assert secret.hex() not in caplog.text and cookie not in caplog.text


async def test_configured_secret_signs_the_cookie(tmp_path: Path) -> None:
    secret = "s" * 40
    text = CONFIG.format(db=tmp_path / "vigil.db").replace("server:\n", f"server:\n  session_secret: {secret}\n")
    app, engine = build_app(parse_config(text, env={}), clock=FakeClock(start=1_700_000_000.0), collectors=[])
    await engine.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil.test") as c:
            await login(c)
            session = SessionSigner(secret.encode()).read(c.cookies[SESSION_COOKIE], 1_700_000_001.0)
            assert session is not None and session.principal == "tests"
            assert engine.store.load_state(SECRET_STATE_KEY) is None  # nothing made when one is configured
    finally:
        await engine.stop()
        engine.store.close()
