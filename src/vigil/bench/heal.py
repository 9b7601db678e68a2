"""`vigil bench heal`: inject faults into the real demo fleet (loopback processes, real time) and
measure vigil healing them through the demo's runbooks (demo/heal.py): per fault kind, detection
time (injection -> the first alert firing on the faulted service), time to verified recovery
(injection -> its action `succeeded`), the share resolved automatically, actions taken, actions
against healthy services (any service but the one faulted), duplicate actions (more than one on the
faulted service for one fault), and escalations (actions that ended otherwise than `succeeded`).

The sequence is randomised by `--seed` (which kind, on which service, in which order). Kinds:
crash, hang, leak, dependency (a callee of storefront hangs: only it may be restarted), latency
(added latency: its connections are reset), deploy (a bad version of storefront, deployed through
vigil's `process` actuator: rolled back) and surge (storefront's traffic six times over: its scaling
policy scales out; bench/heal_load.py). deploy and surge need storefront's replicas run by vigil, so
they run after the others on a second fleet where they are, with light steady traffic; the others run
on a fleet whose three services are its own processes. `--kill K` (bench/heal_kill.py) runs vigil as
a separate process and SIGKILLs it K times mid-heal.

The bench's config is the demo's with three changes, reported in the output: the guard rails allow the
bench's fault rate (cooldown `--cooldown`, 100 attempts an hour, where the production default of 3
an hour would refuse the 4th fault of a kind on a service); the incidents' reopen and flapping
windows are WINDOW_S (independent faults a minute apart would otherwise all be one flapping incident,
held open); and the anomaly detectors are off (their alerts resolve after 5 minutes, which would keep
one fault's incident open into the next); detection is by the probes and the demo's rules."""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
from collections.abc import Callable
from typing import Any, cast

import aiohttp
import orjson
import typer
import yaml
from rich.console import Console

from vigil.bench.heal_load import BASE_RPS, SCALING, SURGE_RPS, TARGET_RPS, settled_replicas, surge, traffic
from vigil.config import parse_config

app = typer.Typer(add_completion=False)

KINDS = ("crash", "hang", "leak", "dependency", "latency", "deploy", "surge")
REPLICATED = ("deploy", "surge")  # need storefront's replicas run by vigil's process actuator
ALL = ("catalog", "payments", "storefront")
TARGETS = {"crash": ALL, "hang": ALL, "leak": ALL, "dependency": ("catalog", "payments"), "latency": ALL,
           "deploy": ("storefront",), "surge": ("storefront",)}
LATENCY_MS = 500.0  # twice the demo's SLO, and under the bench's probe timeout (a slow service, not a dead one)
POLL_S = 0.25
# Faults a minute apart on three services would be "flapping" by the production definition (4 changes
# in 10 minutes: the incident is held open) and "back within the reopen window" (30 minutes): every
# fault would land in one long incident. The bench's faults are independent, so its windows are short.
WINDOW_S = 15.0
FINISHED = ("succeeded", "rolled_back", "failed", "escalated", "denied", "expired")
ENDED_BADLY = ("rolled_back", "failed", "escalated")


def knobs(kind: str, leak_mb_per_min: float) -> dict[str, Any]:
    table: dict[str, dict[str, Any]] = {"crash": {"crash": True}, "hang": {"hang": True},
                                        "dependency": {"hang": True}, "leak": {"leak_mb_per_min": leak_mb_per_min},
                                        "latency": {"latency_ms": LATENCY_MS}}
    return table[kind]


def plan(kinds: list[str], per_kind: int, seed: int) -> list[tuple[str, str]]:
    """Seeded: which service each fault hits, and their order (those on storefront's replicas last)."""
    rng = random.Random(seed)
    faults = [(k, rng.choice(TARGETS[k])) for k in kinds for _ in range(per_kind)]
    rng.shuffle(faults)
    return sorted(faults, key=lambda f: f[0] in REPLICATED)  # stable: the seeded order within each part


def bench_config(fleet: Any, probe_s: float, cooldown_s: float) -> Any:
    from vigil.demo.run import free_port

    data = yaml.safe_load(fleet.vigil_config(server_port=free_port(), probe_interval_s=probe_s,
                                             probe_timeout_s=0.8 * probe_s, scrape_interval_s=probe_s,
                                             runbooks=True))
    overrides(data, cooldown_s)
    return parse_config(yaml.safe_dump(data, sort_keys=False), file="<bench heal config>", env={})


def overrides(data: dict[str, Any], cooldown_s: float) -> None:
    """The bench's changes to the demo's config (module docstring): guard rails and incident windows
    for a fault a minute, and no anomaly detectors."""
    for svc in data["services"]:
        svc["detect"] = {"enabled": False}
    data["remediation"] = {"guards": {"cooldown": f"{cooldown_s:g}s", "max_attempts": 100}}
    data["incidents"] = {**data.get("incidents", {}), "reopen_window": f"{WINDOW_S:g}s",
                         "flapping": {"window": f"{WINDOW_S:g}s"}}


async def _until(check: Callable[[], Any], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(POLL_S)
    return False


async def quiet(engine: Any, within_s: float) -> str:
    """Wait until every service is healthy, no incident has an alert firing and no action is under way (ready for
    the next fault); "" then, else what was still not calm when `within_s` ran out."""
    why = ""

    async def calm() -> bool:
        nonlocal why
        sick = {s: h for s, h in engine.health().items() if h != "healthy"}
        # An incident held open with nothing firing (a flapping alert must go quiet first) is no fault.
        opened = [f"#{i.id} {i.service}" for i in engine.stages.incidents.known.values() if i.open and i.firing_count]
        busy = [f"#{a.id} {a.service} {a.runbook} {a.state}"
                for a in await asyncio.to_thread(engine.store.actions, "unfinished")]
        why = "; ".join(part for part in (f"not healthy: {sick}" if sick else "",
                                          f"incidents open: {opened}" if opened else "",
                                          f"actions unfinished: {busy}" if busy else "") if part)
        return not why
    return "" if await _until(calm, within_s) else why


async def inject(http: aiohttp.ClientSession, url: str, body: dict[str, Any] | None) -> None:
    try:
        if body is None:
            async with http.delete(url) as r:
                await r.read()
        else:
            async with http.post(url, json=body) as r:
                await r.read()
    except aiohttp.ClientError:
        pass  # a crash may close the connection before the answer


async def one_fault(engine: Any, fleet: Any, http: aiohttp.ClientSession, kind: str, target: str,
                    opts: dict[str, Any], rig: dict[str, Any]) -> dict[str, Any]:
    if kind == "surge":
        return await surge_fault(engine, rig, target, opts)
    t0 = engine.clock.now()
    if kind == "deploy":
        await rig["deployer"].deploy(bad=True)
    else:
        await inject(http, fleet.services[target].admin_url, knobs(kind, opts["leak_mb_per_min"]))

    async def settled() -> bool:
        found = await asyncio.to_thread(engine.store.actions, None, target, t0, 100)
        return any(a.state in FINISHED for a in found)
    await _until(settled, opts["timeout"])
    await asyncio.sleep(1.0)  # an action on another service started meanwhile is seen too
    actions = await asyncio.to_thread(engine.store.actions, None, None, t0, 100)
    events = await asyncio.to_thread(engine.store.events, t0, None, target, "alert", 1000)
    row = fault_row(kind, target, t0, actions, events)
    fixed = row["resolved"]
    if not fixed:  # put the fleet right by hand, so the next fault starts clean
        if kind == "deploy":
            if rig["actuator"].versions:
                await rig["actuator"].rollback_version()
        elif fleet.services[target].process is not None:
            await inject(http, fleet.services[target].admin_url, None)
            await asyncio.to_thread(fleet.restart, target)
        else:
            await inject(http, fleet.services[target].admin_url, None)
            await rig["actuator"].restart()
    return row


async def surge_fault(engine: Any, rig: dict[str, Any], target: str, opts: dict[str, Any]) -> dict[str, Any]:
    """A load surge: answered by the scaling policy, not a runbook. Its actions are the scale-outs;
    a scale-down while the surge is on (flapping) counts as a duplicate; a remediation action on any
    service during it is one against a healthy service (nothing was broken)."""
    t0 = engine.clock.now()
    seen = await surge(engine, rig["actuator"], rig["load"], target, opts["timeout"])
    await asyncio.sleep(1.0)
    actions = await asyncio.to_thread(engine.store.actions, None, None, t0, 100)
    return {"kind": "surge", "service": target, "detection_s": seen["detection_s"], "recovery_s": seen["recovery_s"],
            "resolved": seen["recovery_s"] is not None, "actions": seen["scale_ups"] + len(actions),
            "actions_against_healthy": len(actions), "duplicate_actions": seen["scale_downs_during_surge"],
            "escalations": sum(1 for a in actions if a.state in ENDED_BADLY),
            "escalated_if_unresolved": seen["recovery_s"] is not None, "replicas": seen}


def fault_row(kind: str, target: str, t0: float, actions: list[Any], events: list[Any]) -> dict[str, Any]:
    """One fault's figures from the actions begun since its injection and its service's alert events."""
    mine = [a for a in actions if a.service == target]
    fixed = [a for a in mine if a.state == "succeeded"]
    opened = [e.ts for e in events if e.data.get("status") == "firing" and e.ts >= t0]
    return {
        "kind": kind, "service": target, "detection_s": round(min(opened) - t0, 2) if opened else None,
        "recovery_s": round(fixed[0].finished_at - t0, 2) if fixed and fixed[0].finished_at else None,
        "resolved": bool(fixed), "actions": len(actions),
        "actions_against_healthy": sum(1 for a in actions if a.service != target),
        "duplicate_actions": max(0, len(mine) - 1),
        "escalations": sum(1 for a in actions if a.state in ENDED_BADLY),
        "escalated_if_unresolved": bool(fixed) or any(a.state in ENDED_BADLY for a in mine),
        "acted": [{"service": a.service, "runbook": a.runbook, "state": a.state, "reason": a.reason} for a in actions]}


def figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    det = [r["detection_s"] for r in rows if r["detection_s"] is not None]
    rec = [r["recovery_s"] for r in rows if r["recovery_s"] is not None]
    return {"faults": len(rows),
            "resolved_automatically_fraction": round(sum(r["resolved"] for r in rows) / len(rows), 4) if rows else None,
            "detection_s_median": round(statistics.median(det), 2) if det else None,
            "recovery_s_median": round(statistics.median(rec), 2) if rec else None,
            "actions": sum(r["actions"] for r in rows),
            "actions_against_healthy": sum(r["actions_against_healthy"] for r in rows),
            "duplicate_actions": sum(r["duplicate_actions"] for r in rows),
            "escalations": sum(r["escalations"] for r in rows),
            "unresolved_not_escalated": sum(1 for r in rows if not r["escalated_if_unresolved"])}


async def run_part(opts: dict[str, Any], faults: list[tuple[str, str]], first: int, of: int,
                   say: Callable[[str], None]) -> list[dict[str, Any]]:
    """One fleet and one engine for these faults; storefront's replicas vigil's when any needs them."""
    from vigil.app import build_app
    from vigil.demo.deploys import Deployer
    from vigil.demo.fleet import SCALED, Fleet
    from vigil.demo.heal import restarters

    replicated = any(k in REPLICATED for k, _ in faults)
    rows: list[dict[str, Any]] = []
    with Fleet(load=False, seed=opts["seed"], scaling=SCALING if replicated else None) as fleet:
        config = bench_config(fleet, opts["probe_interval"], opts["cooldown"])
        _, engine = build_app(config, actuators=cast(Any, restarters(fleet)))
        await engine.start()
        try:
            async with aiohttp.ClientSession() as http, contextlib.AsyncExitStack() as stack:
                rig: dict[str, Any] = {}
                if replicated:
                    rig["actuator"] = next(s.actuator for s in engine.stages.scale.services if s.name == SCALED)
                    rig["deployer"] = Deployer(fleet, rig["actuator"])
                    rig["load"] = await stack.enter_async_context(traffic(fleet.services[SCALED].url))
                for i, (kind, target) in enumerate(faults, first):
                    if why := await quiet(engine, opts["timeout"]):
                        say(f"fleet not quiet after {opts['timeout']:g}s before fault {i} ({why}); going on")
                    if replicated and not await settled_replicas(rig["actuator"], opts["timeout"]):
                        say(f"{SCALED} not back at its minimum replicas before fault {i}; going on")
                    await asyncio.sleep(opts["cooldown"])  # the guard rails' cooldown since the last action
                    row = await one_fault(engine, fleet, http, kind, target, opts, rig)
                    rows.append(row)
                    say(f"{i}/{of} {kind} on {target}: detected {row['detection_s']}s, recovered "
                        f"{row['recovery_s']}s, {row['actions']} action(s)")
        finally:
            await engine.stop()
            engine.store.close()
    return rows


async def run(opts: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    faults = plan(opts["kinds"], opts["per_kind"], opts["seed"])
    own = [f for f in faults if f[0] not in REPLICATED]
    rows = await run_part(opts, own, 1, len(faults), say) if own else []
    if len(own) < len(faults):
        rows += await run_part(opts, faults[len(own):], len(own) + 1, len(faults), say)
    return report(opts, rows)


def report(opts: dict[str, Any], rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"seed": opts["seed"], "kinds_run": opts["kinds"],
            "settings": {"probe_interval_s": opts["probe_interval"], "cooldown_s": opts["cooldown"],
                         "incident_reopen_and_flapping_window_s": WINDOW_S,
                         "max_attempts_per_hour": 100, "anomaly_detectors": False, "latency_ms": LATENCY_MS,
                         "surge_rps": SURGE_RPS, "base_rps": BASE_RPS, "target_rps_per_replica": TARGET_RPS},
            "total": figures(rows), "kinds": {k: figures([r for r in rows if r["kind"] == k]) for k in opts["kinds"]},
            **extra, "faults": rows}


@app.command()
def main(
    seed: int = typer.Option(1, help="the fault sequence (kinds, services, order)"),
    faults_per_kind: int = typer.Option(10, "--faults-per-kind", min=1),
    kinds: str = typer.Option("", help="comma-separated, default all: " + ", ".join(KINDS)
                              + " (with --kill: all but deploy and surge by default)"),
    kill: int = typer.Option(0, "--kill", min=0, help="SIGKILL vigil (a separate process) this many times "
                             "mid-heal; then the kills object"),
    probe_interval: float = typer.Option(1.0, help="probe and scrape interval (s)"),
    cooldown: float = typer.Option(20.0, help="the guard rails' cooldown here (and the pause between faults)"),
    timeout: float = typer.Option(150.0, help="longest wait for one fault's action to end (s)"),
    leak_mb_per_min: float = typer.Option(1200.0, help="the leak fault's rate"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Self-healing of injected faults in the demo fleet (issue 12)."""
    err = Console(stderr=True)
    chosen = [k.strip() for k in kinds.split(",") if k.strip()] or [
        k for k in KINDS if not (kill and k in REPLICATED)]
    unknown = [k for k in chosen if k not in KINDS]
    replicated = [k for k in chosen if k in REPLICATED]
    if unknown or not chosen or (kill and replicated):
        why = (f"unknown kind(s) {unknown}; choose from {', '.join(KINDS)}" if unknown else
               f"no kind given; choose from {', '.join(KINDS)}" if not chosen else
               f"--kill cannot run {replicated}: storefront's replicas and versions live in the memory of the "
               "vigil process that runs them, so a SIGKILL orphans them (persisting them is planned); "
               f"with --kill choose from {', '.join(k for k in KINDS if k not in REPLICATED)}")
        err.print(why, markup=False)
        raise typer.Exit(2)
    opts = {"seed": seed, "per_kind": faults_per_kind, "kinds": chosen, "probe_interval": probe_interval,
            "cooldown": cooldown, "timeout": timeout, "leak_mb_per_min": leak_mb_per_min, "kill": kill}
    say = lambda line: err.print(line, markup=False, highlight=False)  # noqa: E731
    if kill:
        from vigil.bench.heal_kill import run_with_kills

        out = asyncio.run(run_with_kills(opts, say))
    else:
        out = asyncio.run(run(opts, say))
    if as_json:
        print(orjson.dumps(out).decode())
        return
    console = Console()
    for name, f in [("total", out["total"]), *out["kinds"].items()]:
        console.print(f"{name:>10}: {f['faults']} faults, resolved {f['resolved_automatically_fraction']}, "
                      f"detection median {f['detection_s_median']}s, recovery median {f['recovery_s_median']}s, "
                      f"{f['actions']} actions, {f['actions_against_healthy']} against healthy, "
                      f"{f['duplicate_actions']} duplicate, {f['escalations']} escalations", highlight=False)
    if "kills" in out:
        console.print(f"     kills: {out['kills']}", highlight=False)
