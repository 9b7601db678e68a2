"""The one HTTP client every HTTP probe, scrape and PromQL source shares.

aiohttp, one session, keep-alive pooling: measured on this machine it costs far less CPU per
request than httpx (see docs/sources.md), and 1,000 targets every 10 s is 100 requests/s."""

from __future__ import annotations

import asyncio
import ssl
import time
from urllib.parse import urlsplit

import aiohttp

from vigil.config.redact import mask, secret_values


class HttpPool:
    """A lazily created aiohttp session (it must be made inside the running event loop), with a
    keep-alive connection pool. Concurrency is bounded by the scheduler, not by the pool."""

    def __init__(self, keepalive_s: float = 60.0) -> None:
        self._keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._verifying: ssl.SSLContext | None = None
        self.certificates = CertificateExpiry()

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


class CertificateExpiry:
    """Expiry of the certificate a TLS endpoint presents, from a handshake of its own, cached for
    `ttl_s`: aiohttp hands a pooled connection back before the caller could look at it, and a
    certificate changes rarely, so one handshake an hour per endpoint is enough."""

    def __init__(self, ttl_s: float = 3600.0) -> None:
        self.ttl_s = ttl_s
        self._cache: dict[tuple[str, int], tuple[float, float | None]] = {}
        self._insecure: ssl.SSLContext | None = None

    async def not_after(self, url: str, timeout: float) -> float | None:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or 443
        cached = self._cache.get((host, port))
        mono = time.monotonic()
        if cached is not None and mono - cached[0] < self.ttl_s:
            return cached[1]
        value = await self._handshake(host, port, timeout)
        self._cache[(host, port)] = (mono, value)
        return value

    async def _handshake(self, host: str, port: int, timeout: float) -> float | None:
        if self._insecure is None:
            # Only reads what the server presents; trust is judged by the probe's own request.
            self._insecure = ssl.create_default_context()
            self._insecure.check_hostname = False
            self._insecure.verify_mode = ssl.CERT_NONE
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=self._insecure, server_hostname=host), timeout)
        except (TimeoutError, OSError, ssl.SSLError):
            return None
        try:
            ssl_object = writer.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        finally:
            writer.close()
        return certificate_not_after(der) if der else None


def certificate_not_after(der: bytes) -> float:
    """Expiry of a DER certificate, epoch seconds. cryptography, because the stdlib only decodes a
    certificate it verified."""
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    return cert.not_valid_after_utc.timestamp()


def redact_url(url: str) -> str:
    """The URL as it may be shown: credentials in it (http://user:pw@host/) become ***."""
    return mask(url)


def scrub(text: str, url: str) -> str:
    """Mask text that may have quoted the raw URL (exception messages): its password and any credentials."""
    return mask(text, secret_values({"url": url}))


def describe_error(exc: BaseException, url: str, timeout: float) -> str:
    """A short human reason for a failed request (never showing a password from the URL)."""
    return scrub(_describe(exc, redact_url(url), timeout), url)


def _describe(exc: BaseException, url: str, timeout: float) -> str:
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


async def read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body up to `limit` bytes (StreamReader.read(n) returns whatever has arrived, so loop)."""
    chunks: list[bytes] = []
    total = 0
    while total < limit:
        chunk = await response.content.read(min(1 << 16, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)
