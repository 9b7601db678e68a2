"""Stored API keys: shown once, kept as a hash, scopes, expiry and its warning, rotation with a grace
period, revocation, use counts written in batches, audit events, and `vigil keys`."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from vigil.keys import manage
from vigil.keys.cli import keys_app
from vigil.keys.model import DAY, key_hash
from vigil.store import open_store
from vigil.web.headers import KEY_WARNING_HEADER


def anon(client: httpx.AsyncClient) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=client._transport, base_url="http://vigil.test")


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def book(client: httpx.AsyncClient):  # type: ignore[no-untyped-def]
    return client._transport.app.state.keys.book  # type: ignore[attr-defined]


async def test_a_stored_key_works_with_its_scopes_and_its_uses_are_counted(api, clock) -> None:
    client, engine = api
    rec, key = manage.create(engine.store, "ci", ["ingest"], clock.now())
    assert key.startswith("vk_") and len(key) > 50 and rec.hash == key_hash(key.encode())
    book(client).invalidate()
    async with anon(client) as c:
        h = {"Authorization": f"Bearer {key}"}
        for _ in range(3):
            assert (await c.post("/api/v1/samples", json={"samples": []}, headers=h)).status_code == 200
        r = await c.get("/api/v1/services", headers=h)
        assert r.status_code == 403 and "'read'" in r.json()["detail"] and key not in r.text
    assert engine.store.api_keys()[0].use_count == 0  # gathered in memory, not a write per request
    await book(client).flush()  # written through the engine's writer in one call
    (stored,) = engine.store.api_keys()
    assert stored.use_count == 3 and stored.last_used_at == clock.now()


async def test_only_the_hash_is_stored(api, clock, tmp_path: Path) -> None:
    client, engine = api
    _, key = manage.create(engine.store, "ci", ["read"], clock.now())
    stored = _all_bytes(tmp_path)  # the database and its write-ahead log
    assert key.encode() not in stored and key_hash(key.encode()).encode() in stored
    events = engine.store.events(kind="api_key")
    assert events and all(key not in e.message and key not in str(e.data) for e in events)


async def test_expiry_warning_header_and_expiry(api, clock) -> None:
    client, engine = api
    _, key = manage.create(engine.store, "soon", ["read"], clock.now(), expires_days=20)
    book(client).invalidate()
    async with anon(client) as c:
        h = {"X-API-Key": key}
        r = await c.get("/api/v1/services", headers=h)
        assert r.status_code == 200 and KEY_WARNING_HEADER not in r.headers
        clock.set(clock.now() + 10 * DAY)
        r = await c.get("/api/v1/services", headers=h)
        assert r.status_code == 200
        assert "expires in 10.0 days" in r.headers[KEY_WARNING_HEADER]
        assert "vigil keys rotate soon" in r.headers[KEY_WARNING_HEADER]
        clock.set(clock.now() + 10 * DAY)
        assert (await c.get("/api/v1/services", headers=h)).status_code == 401


async def test_rotation_keeps_two_versions_for_the_grace_period(api, clock) -> None:
    client, engine = api
    store, t0 = engine.store, clock.now()
    _, v1 = manage.create(store, "svc", ["read"], t0)
    _, v2 = manage.rotate(store, "svc", t0, grace_days=7)
    book(client).invalidate()
    async with anon(client) as c:
        async def status(key: str) -> int:
            return (await c.get("/api/v1/services", headers={"X-API-Key": key})).status_code

        assert await status(v1) == 200 and await status(v2) == 200
        r = await c.get("/api/v1/services", headers={"X-API-Key": v1})
        assert "grace period" in r.headers[KEY_WARNING_HEADER]
        _, v3 = manage.rotate(store, "svc", t0 + DAY, grace_days=7)  # a second rotation ends v1 at once
        book(client).invalidate()
        clock.set(t0 + DAY)
        assert (await status(v1), await status(v2), await status(v3)) == (401, 200, 200)
        clock.set(t0 + 9 * DAY)
        assert (await status(v2), await status(v3)) == (401, 200)
    actions = [e.data["action"] for e in store.events(kind="api_key")]
    assert actions == ["create", "rotate", "rotate"]


async def test_revoke_ends_every_version(api, clock) -> None:
    client, engine = api
    store, t0 = engine.store, clock.now()
    _, v1 = manage.create(store, "svc", ["read"], t0)
    _, v2 = manage.rotate(store, "svc", t0)
    manage.revoke(store, "svc", t0)
    book(client).invalidate()
    async with anon(client) as c:
        for key in (v1, v2):
            assert (await c.get("/api/v1/services", headers={"X-API-Key": key})).status_code == 401
    assert store.events(kind="api_key")[-1].data["action"] == "revoke"
    with pytest.raises(manage.KeyError_, match="no valid key named 'svc'"):
        manage.revoke(store, "svc", t0)


@pytest.mark.parametrize("name,scopes,message", [
    ("a b", ["read"], "a key name is"),
    ("", ["read"], "a key name is"),
    ("ok", ["bogus"], "scopes are read, ingest, operate, admin"),
    ("ok", [], "scopes are"),
])
def test_bad_requests_are_refused_with_why(tmp_path: Path, name: str, scopes: list[str], message: str) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        with pytest.raises(manage.KeyError_, match=message):
            manage.create(store, name, scopes, 1_700_000_000.0)
        assert store.api_keys() == []
    finally:
        store.close()


def test_cli_create_list_rotate_revoke(tmp_path: Path) -> None:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f"store:\n  url: sqlite:///{tmp_path / 'v.db'}\nservices:\n  - name: web\n")
    run = CliRunner()
    made = run.invoke(keys_app, ["create", "--name", "deploy", "--scope", "operate", "--scope", "read",
                                 "--expires-days", "5", "-c", str(cfg)])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("vk_") and " " not in key
    again = run.invoke(keys_app, ["create", "--name", "deploy", "--scope", "read", "-c", str(cfg)])
    assert again.exit_code == 2 and "exists" in again.output
    listed = run.invoke(keys_app, ["list", "-c", str(cfg)], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "deploy" in listed.stdout and key not in listed.stdout
    assert "operate read" in listed.stdout and "expires in 5.0 days" in listed.stdout
    rotated = run.invoke(keys_app, ["rotate", "deploy", "-c", str(cfg)])
    assert rotated.exit_code == 0
    new = rotated.stdout.strip().splitlines()[-1]
    assert new.startswith("vk_") and new != key
    assert run.invoke(keys_app, ["revoke", "deploy", "-c", str(cfg)]).exit_code == 0
    listed = run.invoke(keys_app, ["list", "--all", "-c", str(cfg)], env={"COLUMNS": "200"})
    assert listed.stdout.count("revoked") == 2
    store = open_store(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        assert [e.data["action"] for e in store.events(kind="api_key")] == ["create", "rotate", "revoke"]
        assert max(store.api_keys(), key=lambda r: r.version).hash == key_hash(new.encode())
    finally:
        store.close()


async def test_admin_lists_keys_without_secrets(api, clock) -> None:
    client, engine = api
    _, key = manage.create(engine.store, "ci", ["read"], clock.now(), expires_days=5)
    book(client).invalidate()
    r = await client.get("/api/v1/keys")  # the config key holds admin
    assert r.status_code == 200
    body = r.json()
    assert body["config"] == [{"name": "tests", "scopes": ["admin", "ingest", "operate", "read"]}]
    (ci,) = body["stored"]
    assert ci["name"] == "ci" and ci["state"] == "expiring" and "expires in 5.0 days" in ci["warning"]
    assert key not in r.text and key_hash(key.encode()) not in r.text
    async with anon(client) as c:
        assert (await c.get("/api/v1/keys", headers={"X-API-Key": key})).status_code == 403
