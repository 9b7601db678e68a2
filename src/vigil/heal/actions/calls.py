"""Actions that call out: an HTTP endpoint of the service (clear a cache, reset connections, toggle a
feature flag or fallback), any webhook, any command. Header values are secrets: never in a detail."""

from __future__ import annotations

import asyncio
import os
import time

import httpx

from vigil.heal.actions import ActionContext, StepOutcome
from vigil.heal.actions.params import CommandParams, HttpParams, WebhookParams


def _url(url: str, ctx: ActionContext) -> str:
    return url.replace("{service}", ctx.service)


def _where(url: str) -> str:
    """The URL without credentials or query (what a detail may show)."""
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.host}{f':{parts.port}' if parts.port else ''}{parts.path}"


async def http(p: HttpParams, ctx: ActionContext) -> StepOutcome:
    url = _url(p.url, ctx)
    headers = {k: v.get_secret_value() for k, v in p.headers.items()}
    async with httpx.AsyncClient(timeout=p.timeout) as client:
        try:
            resp = await client.request(p.method, url, json=p.json_body, headers=headers)
        except httpx.HTTPError as exc:
            return StepOutcome(False, f"{p.method} {_where(url)}: {type(exc).__name__}")
    ok = resp.status_code in p.expect_status
    return StepOutcome(ok, f"{p.method} {_where(url)} answered {resp.status_code}", {"status_code": resp.status_code})


async def webhook(p: WebhookParams, ctx: ActionContext) -> StepOutcome:
    url = _url(p.url, ctx)
    headers = {k: v.get_secret_value() for k, v in p.headers.items()}
    body = {"service": ctx.service, "ts": ctx.clock.now(), "source": "vigil"}
    async with httpx.AsyncClient(timeout=p.timeout) as client:
        try:
            resp = await client.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            return StepOutcome(False, f"webhook {_where(url)}: {type(exc).__name__}")
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
