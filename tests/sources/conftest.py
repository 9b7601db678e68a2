"""Real local servers on free loopback ports for the source tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web


@dataclass
class TargetServer:
    """An aiohttp app in the test's event loop; `metrics_text` is what /metrics serves."""

    url: str = ""
    port: int = 0
    metrics_text: str = ""
    hits: dict[str, int] = field(default_factory=dict)


def _app(state: TargetServer) -> web.Application:
    async def health(request: web.Request) -> web.Response:
        state.hits["health"] = state.hits.get("health", 0) + 1
        return web.Response(text="ok: all good")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="boom")

    async def json_doc(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "version": 3, "checks": {"db": {"ok": False}},
                                  "items": [{"state": "up"}]})

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="late")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.2)
        return web.Response(text="ok")

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=state.metrics_text, content_type="text/plain")

    app = web.Application()
    app.add_routes([web.get("/health", health), web.get("/status/{code}", status), web.get("/json", json_doc),
                    web.get("/hang", hang), web.get("/slow", slow), web.get("/metrics", metrics)])
    return app


async def _start(state: TargetServer, ssl_context: ssl.SSLContext | None = None) -> web.AppRunner:
    runner = web.AppRunner(_app(state), shutdown_timeout=0.1, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    state.port = port
    state.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    return runner


@pytest.fixture
async def server():
    state = TargetServer()
    runner = await _start(state)
    yield state
    await runner.cleanup()


def make_self_signed(folder: Path, days: int) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 valid for `days` from now."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vigil test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
async def tls_server(tmp_path):
    cert, key = make_self_signed(tmp_path, days=30)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    state = TargetServer()
    runner = await _start(state, ctx)
    yield state
    await runner.cleanup()
