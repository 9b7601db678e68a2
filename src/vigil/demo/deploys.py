"""Deploying versions of storefront in the demo, through vigil's own `process` actuator (its
`deploy(command)`, which keeps the command it replaces so `rollback_version` can go back to it).

A version is storefront's replica command with `--version vN`; a bad one also carries
`--defect-error-rate`, so that share of its business requests fails until it is rolled back (the
demo's `rollback-bad-deploy` runbook, demo/heal.py). In `vigil demo` a person deploys with
`POST /deploy` on the demo's deploy endpoint (announced at start): `{"bad": true}` for a bad build."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

BAD_BUILD_ERROR_RATE = 0.4  # what a bad version fails of its business requests


class Deployer:
    """Deploys numbered versions of the fleet's replicated service through its actuator."""

    def __init__(self, fleet: Any, actuator: Any) -> None:
        if getattr(actuator, "deploy", None) is None:
            raise ValueError(f"{getattr(actuator, 'kind', 'this')} actuator cannot deploy versions "
                             "(the process actuator can)")
        self.fleet, self.actuator = fleet, actuator
        self.version = 1  # the fleet's replicas start as version 1
        self.history: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()

    def command(self, version: int, bad: bool) -> list[str]:
        argv = [*self.fleet.replica_command(), "--version", f"v{version}" + ("-bad" if bad else "")]
        return argv + (["--defect-error-rate", f"{BAD_BUILD_ERROR_RATE:g}"] if bad else [])

    async def deploy(self, bad: bool = False) -> dict[str, Any]:
        """A new version on every replica (restarted gracefully by the actuator)."""
        async with self._lock:
            self.version += 1
            restarted = await self.actuator.deploy(self.command(self.version, bad))
            done = {"version": f"v{self.version}" + ("-bad" if bad else ""), "bad": bad, "restarted": restarted}
            self.history.append(done)
            return done


def deploy_app(deployer: Deployer) -> web.Application:
    """`POST /deploy` (body `{"bad": true}` or nothing) and `GET /deploy` (what was deployed)."""
    async def post(request: web.Request) -> web.Response:
        body: Any = {}
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                return web.json_response({"error": "body must be JSON, e.g. {\"bad\": true}"}, status=400)
        if not isinstance(body, dict) or set(body) - {"bad"} or not isinstance(body.get("bad", False), bool):
            return web.json_response({"error": "expected {\"bad\": true|false}"}, status=400)
        return web.json_response(await deployer.deploy(bool(body.get("bad", False))))

    async def get(request: web.Request) -> web.Response:
        return web.json_response({"version": deployer.version, "history": deployer.history})

    app = web.Application()
    app.router.add_post("/deploy", post)
    app.router.add_get("/deploy", get)
    return app


async def serve_deploys(deployer: Deployer, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(deploy_app(deployer), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
