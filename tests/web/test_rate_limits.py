"""Rate limits (per key, per address without a key, wrong keys per address), the security headers on
every answer, and `vigil up` serving https from the configured certificate."""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import API_KEY, CONFIG, call_asgi
from vigil.app import build_app
from vigil.config import parse_config
from vigil.demo.run import free_port
from vigil.testing import FakeClock
from vigil.web.headers import CSP

LIMITS = """
  rate_limit_per_address: 20
  rate_limit_per_key: 30
  rate_limit_failures_per_address: 5
"""


@pytest.fixture
async def limited(tmp_path: Path):  # type: ignore[no-untyped-def]
    text = CONFIG.format(db=tmp_path / "vigil.db")
    text = text.replace("  rate_limit_per_address: 1000000\n  rate_limit_failures_per_address: 1000000\n", LIMITS)
    clock = FakeClock(start=1_700_000_000.0)
    app, engine = build_app(parse_config(text, env={}), clock=clock, collectors=[])
    await engine.start()
    try:
        yield app, clock
    finally:
        await engine.stop()
        engine.store.close()


def client(app, address: str = "10.0.0.1") -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 1234)),
                             base_url="http://vigil.test")


async def test_per_key_limit_answers_429_with_retry_after_and_refills(limited) -> None:  # type: ignore[no-untyped-def]
    app, clock = limited
    async with client(app) as c:
        h = {"X-API-Key": API_KEY}
        codes = [(await c.get("/api/v1/services", headers=h)).status_code for _ in range(35)]
        assert codes[:30] == [200] * 30 and codes[30:] == [429] * 5
        r = await c.get("/api/v1/services", headers=h)
        assert int(r.headers["Retry-After"]) >= 1 and "'tests'" in r.json()["detail"] and API_KEY not in r.text
        await clock.advance(2.1)  # 30 a minute: one token every 2 s
        assert (await c.get("/api/v1/services", headers=h)).status_code == 200
    async with client(app, "10.0.0.2") as other:  # the same key from elsewhere shares the key's budget
        assert (await other.get("/api/v1/services", headers=h)).status_code == 429


async def test_a_key_over_its_limit_is_refused_before_routing_with_the_same_answer(limited) -> None:  # type: ignore[no-untyped-def]
    app, clock = limited
    buckets = app.state.keys.limiter.per_key
    taken: list[str] = []  # the guard takes a token for every routed request with a key; the gate only looks
    real_take = buckets.take
    buckets.take = lambda name, cost=1.0, per_min=None: taken.append(name) or real_take(name, cost, per_min)
    async with client(app) as c:
        h = {"Authorization": f"Bearer {API_KEY}"}
        assert [(await c.get("/api/v1/services", headers=h)).status_code for _ in range(30)] == [200] * 30
        assert len(taken) == 30
        refused = [await c.get(path, headers=h) for path in ("/api/v1/services", "/api/v1/incidents/1",
                                                             "/api/v1/nowhere")]
        assert [r.status_code for r in refused] == [429] * 3
        assert len(taken) == 30  # answered before routing: the guard never ran
        for r in refused:
            assert "too many requests with the key 'tests' (at most 30 a minute)" in r.json()["detail"]
            assert int(r.headers["Retry-After"]) >= 1 and r.headers["X-Frame-Options"] == "DENY"
            assert API_KEY not in r.text
        # what is not a header key over its limit goes on to the guard as before
        assert (await c.get("/docs", headers=h)).status_code == 200  # public
        assert (await c.get("/healthz", headers=h)).status_code == 200  # exempt
        assert (await c.get("/api/v1/services", headers={"X-API-Key": "wrong-key"})).status_code == 401
        await clock.advance(2.1)  # a token is back: routed and served again
        assert (await c.get("/api/v1/services", headers=h)).status_code == 200
        assert len(taken) == 31


async def test_per_address_limit_without_a_key(limited) -> None:  # type: ignore[no-untyped-def]
    app, _ = limited
    async with client(app) as c, client(app, "10.0.0.9") as d:
        codes = [(await c.get("/api/v1/services" if i % 2 else "/docs")).status_code for i in range(25)]
        assert codes[:20] == [200, 401] * 10 and set(codes[20:]) == {429}
        assert (await d.get("/docs")).status_code == 200  # another address has its own budget
        # probes and Prometheus are never rate limited (they have their own concurrency cap)
        assert {(await c.get("/healthz")).status_code for _ in range(30)} == {200}
        assert (await c.get("/metrics")).status_code == 200
        # a client with a valid key is not held to the anonymous budget of its address
        assert (await c.get("/api/v1/services", headers={"X-API-Key": API_KEY})).status_code == 200


async def test_wrong_keys_lock_the_address_out_even_for_a_right_guess(limited) -> None:  # type: ignore[no-untyped-def]
    app, clock = limited
    async with client(app) as c:
        for i in range(5):
            r = await c.get("/api/v1/services", headers={"X-API-Key": f"guess-{i:016d}"})
            assert r.status_code == 401
        r = await c.get("/api/v1/services", headers={"X-API-Key": "guess-again-0000000"})
        assert r.status_code == 429 and "wrong API keys" in r.json()["detail"]
        # while it waits, the right key is not told apart from a wrong one
        r = await c.get("/api/v1/services", headers={"X-API-Key": API_KEY})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        # logging in is a guess too
        r = await c.post("/api/v1/session", json={"key": API_KEY})
        assert r.status_code == 429
        await clock.advance(13)  # 5 a minute: one every 12 s
        assert (await c.get("/api/v1/services", headers={"X-API-Key": API_KEY})).status_code == 200
    async with client(app, "10.0.0.3") as d:  # other addresses were never affected
        assert (await d.get("/api/v1/services", headers={"X-API-Key": API_KEY})).status_code == 200


async def test_wrong_logins_count_as_guesses(limited) -> None:  # type: ignore[no-untyped-def]
    app, _ = limited
    async with client(app) as c:
        codes = [(await c.post("/api/v1/session", json={"key": f"wrong-{i:016d}"})).status_code for i in range(7)]
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}


@pytest.mark.parametrize("path,headers", [
    ("/api/v1/services", {"X-API-Key": API_KEY}),
    ("/api/v1/services", {}),  # refusals carry them too
    ("/healthz", {}),
    ("/api/v1/nothing-here", {"X-API-Key": API_KEY}),
])
async def test_security_headers_on_every_answer(api, path: str, headers: dict[str, str]) -> None:
    c, _ = api
    r = await c.get(path, headers={"Authorization": "", **headers})
    assert r.headers["Content-Security-Policy"] == CSP and "unsafe-inline" not in CSP
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in r.headers  # plain http: HSTS would be ignored anyway


async def test_pages_with_their_own_policy_keep_it(api) -> None:
    c, _ = api
    docs = await c.get("/docs")
    csp = docs.headers["Content-Security-Policy"]
    assert "script-src 'self' 'sha256-" in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
    link = await c.get("/links/not-a-token")  # the signed-link pages' own: no script at all
    assert link.status_code == 403 and link.headers["Content-Security-Policy"].startswith("default-src 'none';")


def _self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_up_serves_https_with_hsts_and_secure_cookies(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f"""
store: {{url: "sqlite:///{tmp_path / 'vigil.db'}"}}
server: {{port: {port}, tls_cert: "{cert}", tls_key: "{key}", api_keys: [{{name: t, key: "{API_KEY}"}}]}}
services: [{{name: web}}]
""")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "vigil"), "up", "-c", str(cfg)],
                            env={"PATH": "/usr/bin:/bin"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"https://127.0.0.1:{port}"
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        deadline, ready = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"{base}/healthz", verify=trust, timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, "https never answered"
        assert ready.headers["Strict-Transport-Security"].startswith("max-age=")
        login = httpx.post(f"{base}/api/v1/session", json={"key": API_KEY}, verify=trust, timeout=5)
        assert login.status_code == 200
        assert all("; secure" in h.lower() for h in login.headers.get_list("set-cookie"))
        with pytest.raises(httpx.HTTPError):  # no plain http on the same port
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).raise_for_status()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert f"https://127.0.0.1:{port}" in out, out + err
    assert API_KEY not in out + err


@pytest.mark.parametrize("path", ["/api/v1/silences", "/api/v2/alerts", "/api/v1/session"])
async def test_bodies_over_the_cap_are_refused(make_app, path: str) -> None:
    app = make_app(max_request_bytes=1000)
    h = {"X-API-Key": API_KEY, "Content-Type": "application/json"}
    declared = await call_asgi(app, "POST", path, {**h, "Content-Length": "5000"}, [b"x" * 5000])
    assert declared.status == 413 and declared.pulled == 0  # refused before a byte was read
    streamed = await call_asgi(app, "POST", path, h, iter([b"[" + b" " * 600] * 50))  # no Content-Length
    assert streamed.status == 413 and streamed.pulled <= 3, streamed.body
    assert b"at most 1,000 bytes" in streamed.body
    small = await call_asgi(app, "POST", path, {**h, "Content-Length": "2"}, [b"{}"])
    assert small.status not in (413, 500)


async def test_a_config_key_can_have_its_own_limit(tmp_path: Path) -> None:
    text = CONFIG.format(db=tmp_path / "vigil.db").replace(
        f"      key: {API_KEY}\n", f"      key: {API_KEY}\n      rate_limit_per_min: 3\n")
    app, engine = build_app(parse_config(text, env={}), clock=FakeClock(start=1_700_000_000.0), collectors=[])
    await engine.start()
    try:
        async with client(app) as c:
            codes = [(await c.get("/api/v1/services", headers={"X-API-Key": API_KEY})).status_code for _ in range(5)]
            assert codes == [200, 200, 200, 429, 429]
    finally:
        await engine.stop()
        engine.store.close()
