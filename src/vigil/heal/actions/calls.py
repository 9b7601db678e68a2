"""Actions that call out: an HTTP endpoint of the service (clear a cache, reset connections, toggle a
feature flag or fallback), any webhook, any command. Header values are secrets: never in a detail."""

from __future__ import annotations

import asyncio
import os
import time

import httpx

from vigil.breaker import BreakerOpen
from vigil.heal.actions import ActionContext, StepOutcome, through
from vigil.heal.actions.params import CommandParams, HttpParams, WebhookParams


def _url(url: str, ctx: ActionContext) -> str:
    return url.replace("{service}", ctx.service)


def _where(url: str) -> str:
    """The URL without credentials or query (what a detail may show)."""
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.host}{f':{parts.port}' if parts.port else ''}{parts.path}"


RETRYABLE_STATUS = frozenset({408, 425, 429})  # with every 5xx: the endpoint is failing, not refusing


class _Failing(Exception):
    """An answer that counts against the endpoint's breaker (5xx, 408, 425, 429)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def endpoint_of(url: str) -> str:
    """The breaker's name for a URL: its scheme, host and port (never a path, a query or credentials)."""
    parts = httpx.URL(url)
    return f"runbook:{parts.scheme}://{parts.host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


async def _request(ctx: ActionContext, method: str, url: str, body: object, headers: dict[str, str],
                   timeout: float) -> httpx.Response:
    """One request through the endpoint's circuit breaker: refused at once while it is open
    (BreakerOpen); a failing answer or no answer counts against it, any other answer for it."""
    async def call() -> httpx.Response:
        async with httpx.AsyncClient(timeout=timeout) as client:
            resp = await client.request(method, url, json=body, headers=headers)
        if resp.status_code >= 500 or resp.status_code in RETRYABLE_STATUS:
            raise _Failing(resp)
        return resp
    try:
        return await through(ctx, endpoint_of(url), call)
    except _Failing as failing:
        return failing.response


async def http(p: HttpParams, ctx: ActionContext) -> StepOutcome:
    url = _url(p.url, ctx)
    headers = {k: v.get_secret_value() for k, v in p.headers.items()}
    try:
        resp = await _request(ctx, p.method, url, p.json_body, headers, p.timeout)
    except httpx.HTTPError as exc:
        return StepOutcome(False, f"{p.method} {_where(url)}: {type(exc).__name__}")
    except BreakerOpen as exc:
        return StepOutcome(False, f"{p.method} {_where(url)} not called: {exc}")
    ok = resp.status_code in p.expect_status
    return StepOutcome(ok, f"{p.method} {_where(url)} answered {resp.status_code}", {"status_code": resp.status_code})


async def webhook(p: WebhookParams, ctx: ActionContext) -> StepOutcome:
    url = _url(p.url, ctx)
    headers = {k: v.get_secret_value() for k, v in p.headers.items()}
    body = {"service": ctx.service, "ts": ctx.clock.now(), "source": "vigil"}
    try:
        resp = await _request(ctx, "POST", url, body, headers, p.timeout)
    except httpx.HTTPError as exc:
        return StepOutcome(False, f"webhook {_where(url)}: {type(exc).__name__}")
    except BreakerOpen as exc:
        return StepOutcome(False, f"webhook {_where(url)} not called: {exc}")
    return StepOutcome(resp.is_success, f"webhook {_where(url)} answered {resp.status_code}",
                       {"status_code": resp.status_code})


async def run_argv(argv: list[str], timeout: float) -> tuple[int, str]:
    """Run argv (no shell); its exit status and the tail of its output. A timeout kills it (status -9)."""
    try:
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                                                    env=dict(os.environ))
    except OSError as exc:
        return 127, f"cannot run {argv[0]!r}: {exc}"
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -9, f"timed out after {timeout:g}s"
    return int(proc.returncode or 0), out.decode(errors="replace")[-2000:]


async def command(p: CommandParams, ctx: ActionContext) -> StepOutcome:
    started = time.monotonic()
    code, out = await run_argv([a.replace("{service}", ctx.service) for a in p.argv], p.timeout)
    return StepOutcome(code == 0, f"{p.argv[0]} exited {code}: {out.strip()[-200:]}",
                       {"exit_status": code, "seconds": round(time.monotonic() - started, 3)})
