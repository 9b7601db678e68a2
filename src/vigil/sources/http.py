"""HTTP probe: status, latency, body substring or JSON field, TLS certificate days left."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import orjson

from vigil.config.sources import HttpProbe, JsonFieldCheck
from vigil.model import ProbeResult
from vigil.sources.base import Collection, short
from vigil.sources.http_client import HttpPool, describe_error, read_capped, redact_url

BODY_LIMIT = 1 << 20  # a health body larger than 1 MiB is not read in full


class HttpProbeCollector:
    kind = "http"

    def __init__(self, service: str, name: str, spec: HttpProbe, http: HttpPool | None = None) -> None:
        self.service, self.name, self.spec = service, name, spec
        self.interval, self.timeout = spec.interval, spec.timeout
        self.http = http or HttpPool()
        self._headers = {k: v.get_secret_value() for k, v in spec.headers.items()}
        self._client_timeout = aiohttp.ClientTimeout(total=spec.timeout)
        self._needs_body = spec.body_contains is not None or spec.json_field is not None
        self._shown = redact_url(spec.url)  # what details say: never a password from the URL

    async def collect(self, now: float) -> Collection:
        ok, detail = False, ""
        values: dict[str, float] = {}
        started = time.perf_counter()  # latency is a physical measurement, not engine time
        try:
            ok, detail, values = await self._request(now)
        except Exception as exc:  # every failure is a result, never an exception
            detail = describe_error(exc, self.spec.url, self.spec.timeout)
        latency = time.perf_counter() - started
        result = ProbeResult(self.service, self.name, now, ok, latency, short(detail), values)
        return Collection(self.service, self.name, now, probe=result)

    async def _request(self, now: float) -> tuple[bool, str, dict[str, float]]:
        spec = self.spec
        session = self.http.session()
        https = spec.url.startswith("https:")
        ssl = self.http.ssl_for(spec.verify_tls) if https else True
        async with session.request(spec.method, spec.url, headers=self._headers, ssl=ssl,
                                   timeout=self._client_timeout, allow_redirects=False) as resp:
            values: dict[str, float] = {"status_code": float(resp.status)}
            body = await read_capped(resp, BODY_LIMIT) if self._needs_body else await _drain(resp)
        if resp.status not in spec.expect_status:
            reason = f"HTTP {resp.status} from {self._shown}"
            if body:
                reason += f": {body[:80].decode('utf-8', 'replace')}"
            return False, reason, values
        not_after = await self.http.certificates.not_after(spec.url, spec.timeout) if https else None
        if not_after is not None:
            days = (not_after - now) / 86400.0
            values["tls_days_left"] = round(days, 3)
            if spec.tls_min_days is not None and days < spec.tls_min_days:
                return False, (f"TLS certificate of {self._shown} expires in {days:.1f} days "
                               f"(minimum {spec.tls_min_days})"), values
        if spec.body_contains is not None:
            text = body.decode("utf-8", "replace")
            if spec.body_contains not in text:
                return False, f"body of {self._shown} does not contain {spec.body_contains!r}", values
        if spec.json_field is not None:
            problem = check_json_field(body, spec.json_field)
            if problem:
                return False, f"{problem} in {self._shown}", values
        return True, f"HTTP {resp.status} from {self._shown}", values

    async def aclose(self) -> None:
        await self.http.aclose()


async def _drain(resp: aiohttp.ClientResponse) -> bytes:
    # Reading the (small) body lets the connection go back to the keep-alive pool.
    return await read_capped(resp, BODY_LIMIT) if resp.status not in (204, 304) else b""


_MISSING = object()


def json_path(document: Any, path: str) -> Any:
    """Follow a dotted path (`checks.db.ok`, `items.0.state`) through dicts and lists."""
    node = document
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def check_json_field(body: bytes, check: JsonFieldCheck) -> str | None:
    """None when the check passes, else why not. Without `equals`, the field must be truthy."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "body is not JSON"
    found = json_path(document, check.path)
    if found is _MISSING:
        return f"JSON field {check.path} missing"
    if check.equals is None:
        return None if found else f"JSON field {check.path} is {_show(found)}"
    if not _json_equal(found, check.equals):
        return f"JSON field {check.path} is {_show(found)}, expected {_show(check.equals)}"
    return None


def _json_equal(found: Any, expected: Any) -> bool:
    # True must not equal 1: a boolean check is about a boolean.
    if isinstance(found, bool) or isinstance(expected, bool):
        return isinstance(found, bool) and isinstance(expected, bool) and found is expected
    return found == expected


def _show(value: Any) -> str:
    return orjson.dumps(value).decode()[:60]
