"""`vigil bench heal --kill K`: the heal run with vigil as a separate process (`vigil up` on the bench's
config and a file SQLite store), SIGKILLed K times at random moments while it heals, and started again
on the same store each time; then the store's action ledger and audit log are checked:

- `lost_actions`: actions the audit log names that the ledger does not hold, and gaps in its ids;
- `repeated_steps`: a step's effect seen more often than the ledger has records of that step (the
  restarts the fleet's supervisor was asked for, the connection resets each service logged), plus
  any (action, phase, step) recorded twice;
- `unreconciled`: actions still unfinished, or steps still `running`, once the run is over.

vigil cannot restart the fleet's services in its own memory here (the fleet lives in the bench's
process), so the restart steps ask the fleet's supervisor over HTTP (`POST /restart/{service}`, the
way a runbook would call systemd or supervisord); everything else is the demo's runbooks."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from vigil.bench.heal import FINISHED, POLL_S, fault_row, inject, knobs, overrides, plan, report
from vigil.config import parse_config

START_TIMEOUT_S = 90.0
KILL_WITHIN_S = 40.0  # a kill falls this long after a fault at most: matching, steps, verification


class Supervisor:
    """The fleet's restart endpoint, counting what it was asked."""

    def __init__(self, fleet: Any) -> None:
        self.fleet = fleet
        self.restarts: Counter[str] = Counter()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _restart(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.fleet.services:
            return web.json_response({"error": f"no service {name}"}, status=404)
        self.restarts[name] += 1  # counted on arrival: a restart asked twice is a repeated step
        member = await asyncio.to_thread(self.fleet.restart, name)
        return web.json_response({"service": name, "pid": member.pid})

    async def start(self) -> None:
        from vigil.demo.run import free_port

        app = web.Application()
        app.router.add_post("/restart/{name}", self._restart)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def kill_config(fleet: Any, supervisor_url: str, store_path: Path, port: int, probe_s: float,
                cooldown_s: float) -> str:
    """The bench's config (heal.bench_config's changes), its restarts through the supervisor."""
    data = yaml.safe_load(fleet.vigil_config(server_port=port, probe_interval_s=probe_s,
                                             probe_timeout_s=0.8 * probe_s, scrape_interval_s=probe_s,
                                             store_url=f"sqlite:///{store_path}", runbooks=True))
    overrides(data, cooldown_s)
    for rb in data["runbooks"]:
        rb["steps"] = [{"action": "http", "method": "POST", "url": supervisor_url + "/restart/{service}",
                        "timeout": "30s"} if s["action"] == "restart" else s for s in rb["steps"]]
    text = yaml.safe_dump(data, sort_keys=False)
    parse_config(text, file="<bench heal --kill config>", env={})
    return text


class VigilProcess:
    """`vigil up -c CONFIG` as a child (its own session), killed with SIGKILL and started again."""

    def __init__(self, config_path: Path, port: int, log_path: Path) -> None:
        self.config_path, self.port, self.log_path = config_path, port, log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def _spawn(self) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-c", "from vigil.cli import main; main()", "up", "-c", str(self.config_path),
                "--log-level", "warning"]
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)

    async def start(self) -> None:
        self.proc = await asyncio.to_thread(self._spawn)
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT_S
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"vigil exited with {self.proc.returncode}; its log: {self.log_path}")
                try:
                    async with http.get(f"http://127.0.0.1:{self.port}/healthz") as r:
                        if r.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"vigil did not answer /healthz within {START_TIMEOUT_S:g}s; its log: {self.log_path}")

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)  # our child, by pid
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


def kill_moments(n_faults: int, kills: int, seed: int) -> list[list[float]]:
    """Seconds after each fault's injection at which vigil is killed: K kills spread over the faults
    (round robin), each at a random moment within KILL_WITHIN_S."""
    rng = random.Random(seed * 7919 + 17)
    moments: list[list[float]] = [[] for _ in range(n_faults)]
    for k in range(kills):
        moments[k % n_faults].append(round(rng.uniform(0.5, KILL_WITHIN_S), 2))
    return [sorted(m) for m in moments]


async def _healthy(http: aiohttp.ClientSession, fleet: Any) -> bool:
    for m in fleet.services.values():
        try:
            async with http.get(m.health_url, timeout=aiohttp.ClientTimeout(total=1)) as r:
                if r.status != 200:
                    return False
        except (aiohttp.ClientError, TimeoutError):
            return False
    return True


def _firing_incidents(store: Any) -> list[Any]:
    """Active incidents with an alert firing (one held open with nothing firing is no fault)."""
    return [i for i in store.incidents("active", with_members=True) if i.firing_count]


async def _quiet(store: Any, http: aiohttp.ClientSession, fleet: Any, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if (await _healthy(http, fleet) and not await asyncio.to_thread(_firing_incidents, store)
                and not await asyncio.to_thread(store.actions, "unfinished")):
            return True
        await asyncio.sleep(POLL_S * 2)
    return False


def ledger_check(store: Any, supervisor: Supervisor, fleet: Any, interrupted: set[int]) -> dict[str, Any]:
    """The kills object, from the store's action ledger and audit log (and the side effects seen)."""
    actions = {a.id: a for a in store.actions(None, None, None, 100_000)}
    named: set[int] = set()
    for rec in store.audit_records(limit=1_000_000):
        for part in (rec.inputs, rec.result):
            if isinstance(part, dict) and isinstance(part.get("action"), int):
                named.add(part["action"])
    gaps = set(range(1, max(actions, default=0) + 1)) - set(actions)
    lost = sorted((named - set(actions)) | gaps)
    steps = [s for a in actions.values() for s in a.steps]
    twice = sum(n - 1 for n in Counter((s.action_id, s.phase, s.index) for s in steps).values() if n > 1)
    recorded: Counter[tuple[str, str]] = Counter()
    for a in actions.values():
        for s in a.steps:
            if s.kind == "http":
                effect = "restart" if a.runbook.startswith("restart-") else "reset"
                recorded[(a.service, effect)] += 1
    seen: Counter[tuple[str, str]] = Counter({(n, "restart"): c for n, c in supervisor.restarts.items()})
    for name, m in fleet.services.items():
        try:
            seen[(name, "reset")] = m.log_path.read_text(errors="replace").count("connections reset")
        except OSError:
            pass
    repeated = twice + sum(max(0, seen[k] - recorded[k]) for k in seen)
    unfinished = [a.id for a in actions.values() if not a.finished]
    running = [(s.action_id, s.phase, s.index) for s in steps if s.state == "running"]
    return {"lost_actions": len(lost), "repeated_steps": repeated, "unreconciled": len(set(unfinished)) + len(running),
            "actions": len(actions), "interrupted_actions": len(interrupted),
            "interrupted_steps": sum(1 for s in steps if s.state == "interrupted"),
            "lost_action_ids": lost, "unfinished_action_ids": unfinished,
            "effects_seen": {f"{k[0]}:{k[1]}": v for k, v in sorted(seen.items()) if v},
            "effects_recorded": {f"{k[0]}:{k[1]}": v for k, v in sorted(recorded.items())}}


async def run_with_kills(opts: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    from vigil.demo.fleet import Fleet
    from vigil.demo.run import free_port
    from vigil.store import open_store

    faults = plan(opts["kinds"], opts["per_kind"], opts["seed"])
    moments = kill_moments(len(faults), opts["kill"], opts["seed"])
    rows: list[dict[str, Any]] = []
    interrupted: set[int] = set()
    kills = 0
    with Fleet(load=False, seed=opts["seed"]) as fleet:
        supervisor = Supervisor(fleet)
        await supervisor.start()
        port = free_port()
        store_path = fleet.workdir / "vigil-kill.db"
        config_path = fleet.workdir / "vigil-kill.yaml"
        config_path.write_text(kill_config(fleet, supervisor.url, store_path, port, opts["probe_interval"],
                                           opts["cooldown"]))
        vigil = VigilProcess(config_path, port, fleet.workdir / "vigil.log")
        store = None
        try:
            await vigil.start()
            store = open_store(f"sqlite:///{store_path}")
            async with aiohttp.ClientSession() as http:
                for i, ((kind, target), at) in enumerate(zip(faults, moments, strict=True), 1):
                    if not await _quiet(store, http, fleet, opts["timeout"]):
                        say(f"fleet not quiet after {opts['timeout']:g}s before fault {i}; going on")
                    await asyncio.sleep(opts["cooldown"])
                    t0, started = time.time(), time.monotonic()
                    await inject(http, fleet.services[target].admin_url, knobs(kind, opts["leak_mb_per_min"]))
                    for moment in at:
                        await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
                        vigil.kill()
                        kills += 1
                        interrupted |= {a.id for a in await asyncio.to_thread(store.actions, "unfinished")}
                        await vigil.start()
                    row = await _settle(store, fleet, http, kind, target, t0, opts)
                    row["kills"] = len(at)
                    rows.append(row)
                    say(f"{i}/{len(faults)} {kind} on {target} ({len(at)} kill(s)): detected {row['detection_s']}s, "
                        f"recovered {row['recovery_s']}s, {row['actions']} action(s)")
                await _quiet(store, http, fleet, opts["timeout"])
        finally:
            vigil.stop()
            await supervisor.stop()
        assert store is not None
        checked = ledger_check(store, supervisor, fleet, interrupted)
        store.close()
    return report(opts, rows, kills={"kills": kills, "vigil_starts": vigil.starts, **checked})


async def _settle(store: Any, fleet: Any, http: aiohttp.ClientSession, kind: str, target: str, t0: float,
                  opts: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + opts["timeout"]
    while time.monotonic() < deadline:
        found = await asyncio.to_thread(store.actions, None, target, t0, 100)
        if any(a.state in FINISHED for a in found):
            break
        await asyncio.sleep(POLL_S)
    await asyncio.sleep(1.0)
    actions = await asyncio.to_thread(store.actions, None, None, t0, 100)
    events = await asyncio.to_thread(store.events, t0, None, target, "alert", 1000)
    row = fault_row(kind, target, t0, actions, events)
    if not row["resolved"]:
        await inject(http, fleet.services[target].admin_url, None)
        await asyncio.to_thread(fleet.restart, target)
    return row
