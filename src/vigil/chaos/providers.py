"""Chaos Toolkit's own providers: `http` (a request to a loopback URL), `process` (a local program),
`python` (a function of an importable module). Their outputs have Chaos Toolkit's shapes:
http `{status, headers, body}`, process `{status, stdout, stderr}`, python the function's return value."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import shlex
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from vigil.chaos.builtins import Context
from vigil.chaos.experiment import HttpProvider, ProcessProvider, PythonProvider
from vigil.chaos.scope import Scope

MAX_BODY = 1 << 20  # of an http answer kept in the output
MAX_OUTPUT = 64 << 10  # of a process' stdout and stderr each

Call = Callable[[Context], Awaitable[Any]]


def http_call(p: HttpProvider, scope: Scope, acting: bool, what: str) -> tuple[Call, list[str]]:
    # A probe that is not a GET or HEAD changes something too: it is held to an action's rules.
    scope.url(p.url, acting or p.method not in ("GET", "HEAD"), what)
    timeout = httpx.Timeout(p.timeout[1], connect=p.timeout[0]) if isinstance(p.timeout, tuple) \
        else httpx.Timeout(p.timeout)

    async def call(ctx: Context) -> dict[str, Any]:
        kw: dict[str, Any] = {"headers": p.headers, "timeout": timeout}
        if p.arguments is not None:
            if p.method in ("GET", "HEAD", "DELETE") and isinstance(p.arguments, dict):
                kw["params"] = p.arguments
            elif isinstance(p.arguments, str):
                kw["content"] = p.arguments
            else:
                kw["json"] = p.arguments
        client = ctx.http if p.verify_tls else httpx.AsyncClient(trust_env=False, verify=False)
        try:
            resp = await client.request(p.method, p.url, **kw)
        finally:
            if client is not ctx.http:
                await client.aclose()
        body: Any = resp.content[:MAX_BODY].decode(resp.encoding or "utf-8", errors="replace")
        if "json" in resp.headers.get("content-type", ""):
            try:
                body = resp.json()
            except ValueError:
                pass
        expected = p.expected_status
        if expected is not None and resp.status_code not in (expected if isinstance(expected, list) else [expected]):
            raise RuntimeError(f"{p.method} {p.url} answered {resp.status_code}; expected {expected}")
        return {"status": resp.status_code, "headers": dict(resp.headers), "body": body}

    return call, [f"{p.method} {p.url}"]


def process_call(p: ProcessProvider) -> tuple[Call, list[str]]:
    args = shlex.split(p.arguments) if isinstance(p.arguments, str) else list(p.arguments)
    timeout = p.timeout or 30.0

    async def call(ctx: Context) -> dict[str, Any]:
        try:
            proc = await asyncio.create_subprocess_exec(
                p.path, *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise RuntimeError(f"cannot run {p.path!r}: {exc}") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except BaseException:  # timeout or Ctrl-C: the program and its children do not outlive the activity
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await proc.wait()
            raise
        return {"status": proc.returncode, "stdout": out[:MAX_OUTPUT].decode(errors="replace"),
                "stderr": err[:MAX_OUTPUT].decode(errors="replace")}

    return call, [f"runs {shlex.join([p.path, *args])}"]


def python_call(p: PythonProvider) -> tuple[Call, list[str]]:
    try:
        module = importlib.import_module(p.module)
    except ImportError as exc:
        raise ValueError(f"cannot import module {p.module!r}: {exc}") from None
    func = getattr(module, p.func, None)
    if not callable(func):
        raise ValueError(f"module {p.module!r} has no function {p.func!r}")
    try:
        inspect.signature(func).bind(**p.arguments)
    except TypeError as exc:
        raise ValueError(f"{p.module}.{p.func} does not take these arguments: {exc}") from None

    async def call(ctx: Context) -> Any:
        if inspect.iscoroutinefunction(func):
            return await func(**p.arguments)
        # Off the event loop: a blocking function must not stall pauses, probes or Ctrl-C.
        return await asyncio.to_thread(func, **p.arguments)

    return call, [f"calls {p.module}.{p.func}"]
