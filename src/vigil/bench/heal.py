"""`vigil bench heal`: inject faults into the real demo fleet (loopback processes, real time) and
measure vigil healing them through the demo's runbooks (demo/heal.py): per fault kind, detection
time (injection -> an incident about the faulted service opens), time to verified recovery
(injection -> its action `succeeded`), the share resolved automatically, actions taken, actions
against healthy services (any service but the one faulted), duplicate actions (more than one on the
faulted service for one fault), and escalations (actions that ended otherwise than `succeeded`).

The sequence is randomised by `--seed` (which kind, on which service, in which order). Kinds run
here: crash, hang, leak, dependency (a callee of storefront hangs: only it may be restarted). Not run
yet (planned; asking for them is an error): latency and an error spike after a deploy (the demo has
no runbook for latency and deploys no versions), a load surge (storefront's scaling policy answers
it: `vigil bench autoscale`), and `--kill` (SIGKILL of a vigil process mid-heal; reconcile after a
kill is tested in tests/heal/test_reconcile.py).

The bench's config is the demo's with two changes, reported in the output: the guard rails allow the
bench's fault rate (cooldown `--cooldown`, 100 attempts an hour, where the production default of 3
an hour would refuse the 4th fault of a kind on a service), and the anomaly detectors are off
(their alerts resolve after 5 minutes, which would keep one fault's incident open into the next);
detection is by the probes and the demo's rules."""

from __future__ import annotations

import asyncio
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

from vigil.config import parse_config

app = typer.Typer(add_completion=False)

KINDS = ("crash", "hang", "leak", "dependency")
PLANNED = ("latency", "deploy", "surge")
TARGETS = {"crash": ("catalog", "payments", "storefront"), "hang": ("catalog", "payments", "storefront"),
           "leak": ("catalog", "payments", "storefront"), "dependency": ("catalog", "payments")}
POLL_S = 0.25
FINISHED = ("succeeded", "rolled_back", "failed", "escalated", "denied", "expired")


def knobs(kind: str, leak_mb_per_min: float) -> dict[str, Any]:
    table: dict[str, dict[str, Any]] = {"crash": {"crash": True}, "hang": {"hang": True},
                                        "dependency": {"hang": True}, "leak": {"leak_mb_per_min": leak_mb_per_min}}
    return table[kind]


def plan(kinds: list[str], per_kind: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    faults = [(k, rng.choice(TARGETS[k])) for k in kinds for _ in range(per_kind)]
    rng.shuffle(faults)
    return faults


def bench_config(fleet: Any, probe_s: float, cooldown_s: float) -> Any:
    from vigil.demo.run import free_port

    data = yaml.safe_load(fleet.vigil_config(server_port=free_port(), probe_interval_s=probe_s,
                                             probe_timeout_s=0.8 * probe_s, scrape_interval_s=probe_s,
                                             runbooks=True))
    for svc in data["services"]:
        svc["detect"] = {"enabled": False}
    data["remediation"] = {"guards": {"cooldown": f"{cooldown_s:g}s", "max_attempts": 100}}
    return parse_config(yaml.safe_dump(data, sort_keys=False), file="<bench heal config>", env={})


async def _until(check: Callable[[], Any], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(POLL_S)
    return False


async def quiet(engine: Any, within_s: float) -> bool:
    """Every service healthy, no incident open, no action under way: ready for the next fault."""
    async def calm() -> bool:
        if set(engine.health().values()) != {"healthy"}:
            return False
        if any(i.open for i in engine.stages.incidents.known.values()):
            return False
        return not await asyncio.to_thread(engine.store.actions, "unfinished")
    return await _until(calm, within_s)


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
                    opts: dict[str, Any]) -> dict[str, Any]:
    t0 = engine.clock.now()
    await inject(http, fleet.services[target].admin_url, knobs(kind, opts["leak_mb_per_min"]))

    async def settled() -> bool:
        found = await asyncio.to_thread(engine.store.actions, None, target, t0, 100)
        return any(a.state in FINISHED for a in found)
    await _until(settled, opts["timeout"])
    await asyncio.sleep(1.0)  # an action on another service started meanwhile is seen too
    actions = await asyncio.to_thread(engine.store.actions, None, None, t0, 100)
    events = await asyncio.to_thread(engine.store.events, t0, None, target, "alert", 1000)
    mine = [a for a in actions if a.service == target]
    fixed = [a for a in mine if a.state == "succeeded"]
    opened = [e.ts for e in events if e.data.get("status") == "firing" and e.ts >= t0]
    row: dict[str, Any] = {
        "kind": kind, "service": target, "detection_s": round(min(opened) - t0, 2) if opened else None,
        "recovery_s": round(fixed[0].finished_at - t0, 2) if fixed and fixed[0].finished_at else None,
        "resolved": bool(fixed), "actions": len(actions),
        "actions_against_healthy": sum(1 for a in actions if a.service != target),
        "duplicate_actions": max(0, len(mine) - 1),
        "escalations": sum(1 for a in actions if a.state in ("rolled_back", "failed", "escalated")),
        "escalated_if_unresolved": bool(fixed) or any(a.state in ("rolled_back", "failed", "escalated")
                                                      for a in mine)}
    if not fixed:  # put the fleet right by hand, so the next fault starts clean
        await inject(http, fleet.services[target].admin_url, None)
        await asyncio.to_thread(fleet.restart, target)
    return row


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


async def run(opts: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    from vigil.app import build_app
    from vigil.demo.fleet import Fleet
    from vigil.demo.heal import restarters

    faults = plan(opts["kinds"], opts["per_kind"], opts["seed"])
    rows: list[dict[str, Any]] = []
    with Fleet(load=False, seed=opts["seed"]) as fleet:
        config = bench_config(fleet, opts["probe_interval"], opts["cooldown"])
        _, engine = build_app(config, actuators=cast(Any, restarters(fleet)))
        await engine.start()
        try:
            async with aiohttp.ClientSession() as http:
                for i, (kind, target) in enumerate(faults, 1):
                    if not await quiet(engine, opts["timeout"]):
                        say(f"fleet not quiet after {opts['timeout']:g}s before fault {i}; going on")
                    await asyncio.sleep(opts["cooldown"])  # the guard rails' cooldown since the last action
                    row = await one_fault(engine, fleet, http, kind, target, opts)
                    rows.append(row)
                    say(f"{i}/{len(faults)} {kind} on {target}: detected {row['detection_s']}s, recovered "
                        f"{row['recovery_s']}s, {row['actions']} action(s)")
        finally:
            await engine.stop()
            engine.store.close()
    return {"seed": opts["seed"], "kinds_run": opts["kinds"], "kinds_planned": list(PLANNED),
            "settings": {"probe_interval_s": opts["probe_interval"], "cooldown_s": opts["cooldown"],
                         "max_attempts_per_hour": 100, "anomaly_detectors": False},
            "total": figures(rows), "kinds": {k: figures([r for r in rows if r["kind"] == k]) for k in opts["kinds"]},
            "faults": rows}


@app.command()
def main(
    seed: int = typer.Option(1, help="the fault sequence (kinds, services, order)"),
    faults_per_kind: int = typer.Option(10, "--faults-per-kind", min=1),
    kinds: str = typer.Option(",".join(KINDS), help="comma-separated: " + ", ".join(KINDS)),
    kill: int = typer.Option(0, "--kill", min=0, help="SIGKILL vigil this many times mid-heal (planned)"),
    probe_interval: float = typer.Option(1.0, help="probe and scrape interval (s)"),
    cooldown: float = typer.Option(20.0, help="the guard rails' cooldown here (and the pause between faults)"),
    timeout: float = typer.Option(150.0, help="longest wait for one fault's action to end (s)"),
    leak_mb_per_min: float = typer.Option(1200.0, help="the leak fault's rate"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Self-healing of injected faults in the demo fleet (issue 12)."""
    err = Console(stderr=True)
    chosen = [k.strip() for k in kinds.split(",") if k.strip()]
    planned = [k for k in chosen if k in PLANNED]
    unknown = [k for k in chosen if k not in KINDS and k not in PLANNED]
    if unknown or planned or kill:
        why = (f"unknown kind(s) {unknown}; choose from {', '.join(KINDS)}" if unknown else
               f"kind(s) {planned} are planned, not run yet; choose from {', '.join(KINDS)}" if planned else
               "--kill is planned, not built yet (reconcile after a kill: tests/heal/test_reconcile.py)")
        err.print(why, markup=False)
        raise typer.Exit(2)
    opts = {"seed": seed, "per_kind": faults_per_kind, "kinds": chosen, "probe_interval": probe_interval,
            "cooldown": cooldown, "timeout": timeout, "leak_mb_per_min": leak_mb_per_min}
    out = asyncio.run(run(opts, lambda line: err.print(line, markup=False, highlight=False)))
    if as_json:
        print(orjson.dumps(out).decode())
        return
    console = Console()
    for name, f in [("total", out["total"]), *out["kinds"].items()]:
        console.print(f"{name:>10}: {f['faults']} faults, resolved {f['resolved_automatically_fraction']}, "
                      f"detection median {f['detection_s_median']}s, recovery median {f['recovery_s_median']}s, "
                      f"{f['actions']} actions, {f['actions_against_healthy']} against healthy, "
                      f"{f['duplicate_actions']} duplicate, {f['escalations']} escalations", highlight=False)
