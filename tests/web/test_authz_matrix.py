"""The authorisation matrix: every route of the app's own route table (so a new route is covered by
itself) against no key, a wrong key, an expired, a revoked and a rotated-out key, a key in its grace
period, a key of each scope, a config key and a session of each scope."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.web.conftest import API_KEY
from vigil.keys import manage
from vigil.keys.model import DAY
from vigil.web.scopes import ADMIN, METRICS, PUBLIC, ROUTE_SCOPES, SCOPES, TABLE, allows, app_routes, required_scope

DENIED = (401, 403)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return sorted({(m, p) for m, p in app_routes(app) if m != "HEAD"})


async def _keys(api, clock) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Stored keys in every state, made through vigil.keys like `vigil keys` makes them."""
    _, engine = api
    store, t0 = engine.store, clock.now()
    out = {"rotated_out": manage.create(store, "old", ["admin"], t0)[1],
           "expired": manage.create(store, "short", ["admin"], t0, expires_days=1)[1]}
    manage.rotate(store, "old", t0, grace_days=1)
    clock.set(t0 + 2 * DAY)
    t1 = clock.now()
    out["grace"] = manage.create(store, "rolling", ["admin"], t1)[1]
    manage.rotate(store, "rolling", t1, grace_days=7)
    out["revoked"] = manage.create(store, "gone", ["admin"], t1)[1]
    manage.revoke(store, "gone", t1)
    for scope in SCOPES:
        out[scope] = manage.create(store, f"only-{scope}", [scope], t1)[1]
    return out


@pytest.fixture
async def matrix(api, clock):  # type: ignore[no-untyped-def]
    client, engine = api
    keys = await _keys(api, clock)
    app = client._transport.app  # type: ignore[attr-defined]
    app.state.keys.book.invalidate()
    return client, app, keys


def test_every_route_is_declared(api) -> None:
    client, _ = api
    app = client._transport.app  # type: ignore[attr-defined]
    undeclared = [(m, p) for m, p in routes(app) if (m, p) not in ROUTE_SCOPES and (m, p) not in PUBLIC]
    assert undeclared == [], "declare these routes' scopes in vigil/web/scopes.py"
    for method, path in routes(app):  # each request path is recognised as the route that serves it
        assert TABLE.template(method, concrete(path)) == path, (method, path)
    assert len(routes(app)) >= 50
    assert required_scope("GET", "/no/such/route") == ADMIN  # an undeclared route fails closed


async def test_matrix(matrix) -> None:  # type: ignore[no-untyped-def]
    client, app, keys = matrix
    anon = httpx.AsyncClient(transport=client._transport, base_url="http://vigil.test")
    sessions: dict[str, tuple[httpx.AsyncClient, str]] = {}
    for scope in ("read", "operate"):
        c = httpx.AsyncClient(transport=client._transport, base_url="http://vigil.test")
        r = await c.post("/api/v1/session", json={"key": keys[scope]})
        assert r.status_code == 200, r.text
        sessions[scope] = (c, r.json()["csrf_token"])
    checked = 0
    try:
        for method, path in routes(app):
            url = concrete(path)
            public = (method, path) in PUBLIC or (method, path) == METRICS
            needed = required_scope(method, path)

            async def call(headers: dict[str, str], via: httpx.AsyncClient = anon, method: str = method,
                           url: str = url) -> int:
                kw = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
                return (await via.request(method, url, headers=headers, **kw)).status_code

            if public:
                assert await call({}) not in (401,), (method, path)
                checked += 1
                continue
            for label, headers in (("none", {}), ("wrong", {"Authorization": "Bearer vk_000000000000_wrong"}),
                                   ("expired", {"X-API-Key": keys["expired"]}),
                                   ("revoked", {"X-API-Key": keys["revoked"]}),
                                   ("rotated out", {"Authorization": f"Bearer {keys['rotated_out']}"})):
                status = await call(headers)
                assert status == 401, (label, method, path, status)
            for label in ("grace", *SCOPES):
                status = await call({"X-API-Key": keys[label]})
                granted = frozenset(SCOPES if label == "grace" else (label,))
                if allows(granted, needed):
                    assert status not in DENIED, (label, method, path, status)
                else:
                    assert status == 403, (label, method, path, status)
            assert await call({"X-API-Key": API_KEY}) not in DENIED, (method, path)  # config key: all scopes
            for scope, (c, csrf) in sessions.items():
                if (method, path) == ("DELETE", "/api/v1/session"):
                    continue  # logging out would end the session the next routes are tried with
                status = await call({"X-CSRF-Token": csrf}, c)
                if allows(frozenset({scope}), needed):
                    assert status not in DENIED, ("session", scope, method, path, status)
                else:
                    assert status == 403, ("session", scope, method, path, status)
            checked += 1
    finally:
        await anon.aclose()
        for c, _ in sessions.values():
            await c.aclose()
    assert checked >= 45  # the whole table ran (today's app has more routes than this)


async def test_revoking_a_key_ends_its_sessions(matrix) -> None:  # type: ignore[no-untyped-def]
    client, app, keys = matrix
    _, engine = None, app.state.engine
    async with httpx.AsyncClient(transport=client._transport, base_url="http://vigil.test") as c:
        assert (await c.post("/api/v1/session", json={"key": keys["read"]})).status_code == 200
        assert (await c.get("/api/v1/services")).status_code == 200
        manage.revoke(engine.store, "only-read", engine.clock.now())
        app.state.keys.book.invalidate()
        r = await c.get("/api/v1/services")
        assert r.status_code == 401 and "no longer valid" in r.json()["detail"]
