"""The one HTTP client every HTTP probe, scrape and PromQL source shares.

aiohttp, one session, keep-alive pooling: measured on this machine it costs far less CPU per
request than httpx (see docs/sources.md), and 1,000 targets every 10 s is 100 requests/s."""

from __future__ import annotations

import asyncio
import ssl
from datetime import datetime, timezone

import aiohttp


class HttpPool:
    """A lazily created aiohttp session (it must be made inside the running event loop), with a
    keep-alive connection pool. Concurrency is bounded by the scheduler, not by the pool."""

    def __init__(self, keepalive_s: float = 60.0) -> None:
        self._keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._verifying: ssl.SSLContext | None = None

    def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300,
                                             keepalive_timeout=self._keepalive_s)
            # No cookies, no proxies from the environment: a probe sees the target as it is.
            self._session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                                  trust_env=False, auto_decompress=True)
            self._loop = loop
        return self._session

    def ssl_for(self, verify: bool) -> ssl.SSLContext | bool:
        # One verifying context for all requests: building one loads the CA store (milliseconds).
        if not verify:
            return False
        if self._verifying is None:
            self._verifying = ssl.create_default_context()
        return self._verifying

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def tls_not_after(response: aiohttp.ClientResponse) -> float | None:
    """Expiry (epoch seconds) of the peer certificate of the connection the response came on;
    call before reading the body (the connection is released afterwards)."""
    conn = response.connection
    transport = conn.transport if conn is not None else None
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    # cryptography, because the stdlib only decodes the certificate when it was verified.
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    not_after: datetime = cert.not_valid_after_utc
    return not_after.replace(tzinfo=timezone.utc).timestamp()


def describe_error(exc: BaseException, url: str, timeout: float) -> str:
    """A short human reason for a failed request."""
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return f"timed out after {timeout:g}s waiting for {url}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate not trusted for {url}: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return f"TLS handshake failed with {url}: {exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        if isinstance(os_error, ConnectionRefusedError):
            return f"connect refused: {url}"
        return f"cannot connect to {url}: {os_error.strerror or os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"server disconnected: {url}"
    if isinstance(exc, aiohttp.ClientError):
        return f"HTTP error from {url}: {type(exc).__name__}: {exc}"
    return f"{type(exc).__name__} requesting {url}: {exc}"
