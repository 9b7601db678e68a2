"""`vigil demo`: start the demo fleet, run vigil on a config generated for it, and show both live.

storefront runs as replicas that vigil itself starts and scales (its `process` actuator, from the
generated config's `scaling:` block); the load starts once vigil has brought up the first one.

With `duration` the demo stops by itself. With `headless`, or when stdout is not a terminal (`make
demo | tee log`), there is no live view: the API's address and key and every service's fault URL
are printed at once, then a line per notable event (health changes, scaling, signals) and a status
line every few seconds, and a summary at the end (services, probes run, samples stored, health
transitions seen, storefront's replicas and scaling decisions). Ctrl-C or SIGTERM stop everything:
the load first, then vigil (which stops the replicas it started), then every fleet process."""

from __future__ import annotations

import asyncio
import secrets
import signal
import socket
import time
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.live import Live

from vigil.config import VigilConfig, parse_config
from vigil.config.redact import Redactor, install_log_masking, secret_values
from vigil.demo.autoscale import StorefrontScaling
from vigil.demo.events import EventLines, announcement
from vigil.demo.fleet import SCALED, Fleet, FleetError
from vigil.demo.load import DailyCurve
from vigil.demo.readings import FleetReadings
from vigil.demo.sinks import Received, Sinks
from vigil.demo.view import (
    HISTORY,
    DemoState,
    HealthTransition,
    ReplicaChange,
    ScalingView,
    note_actions,
    render,
    status_line,
)

TICK_S = 1.0
HEADLESS_STATUS_EVERY_S = 10.0
API_START_TIMEOUT_S = 90.0  # generous: a cold first pipeline pass can hold the event loop for a while
FIRST_REPLICA_TIMEOUT_S = 60.0


@dataclass
class DemoSummary:
    duration_s: float = 0.0
    health: dict[str, str] = field(default_factory=dict)
    probes_run: int = 0
    samples_stored: int | None = None
    series_stored: int | None = None
    transitions: list[HealthTransition] = field(default_factory=list)
    load: dict[str, Any] | None = None
    scaling: dict[str, ScalingView] = field(default_factory=dict)
    replica_changes: list[ReplicaChange] = field(default_factory=list)
    scaling_decisions: int = 0
    notifications: list[Received] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"vigil demo summary ({self.duration_s:.0f}s)",
               "services: " + ", ".join(f"{n} ({h})" for n, h in self.health.items()),
               f"probes run: {self.probes_run}",
               f"samples stored: {'unknown' if self.samples_stored is None else self.samples_stored}",
               f"series stored: {'unknown' if self.series_stored is None else self.series_stored}"]
        if self.load:
            out.append(f"load: {self.load.get('sent', 0)} requests sent, {self.load.get('ok', 0)} ok, "
                       f"{self.load.get('server_errors', 0)} server errors, {self.load.get('failures', 0)} failed")
        out.append(f"health transitions seen: {len(self.transitions)}")
        out += [f"  {t}" for t in self.transitions]
        for name, v in self.scaling.items():
            counts = [c.new for c in self.replica_changes if c.service == name] or [v.replicas]
            under_way = ", a scaling step under way" if v.stepping else ""
            out.append(f"{name} replicas: {v.replicas} at the end ({v.ready_text} "
                       f"ready{under_way}), between {min(counts)} and {max(counts)} during the run; "
                       f"{self.scaling_decisions} scaling decisions, last rule {v.rule or '-'}")
        out.append(f"replica changes: {len(self.replica_changes)}")
        out += [f"  {c}" for c in self.replica_changes]
        out.append(f"notifications received by the demo's SMTP server and webhook: {len(self.notifications)}")
        out += [f"  {n}" for n in self.notifications]
        return out


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def run_demo(duration: float | None, headless: bool, day_seconds: float, port: int | None) -> int:
    """Run the demo; returns the process exit status (0 when it ran and stopped cleanly)."""
    from vigil.runner import StartupError, bind_listener
    from vigil.sources.orphans import reap_orphans

    console = Console()
    plain = headless or not console.is_terminal  # a log: lines as things happen, no live view
    try:  # the API's socket first: a used port is refused before anything starts
        sock = bind_listener("127.0.0.1", port if port is not None else 0)
    except StartupError as exc:
        why = str(exc).replace("--port or server.port", "--port, or leave it out for a free one")
        console.print(f"[red]{why}[/]", highlight=False, soft_wrap=True)
        return 1
    reap_orphans()  # what command probes of a killed vigil left running
    fleet = Fleet(day_seconds=day_seconds, scaling=StorefrontScaling())
    sinks = Sinks()  # an SMTP server and a webhook receiver: where incidents are notified
    summary = DemoSummary()
    try:
        try:
            starting = "starting the demo fleet (catalog, payments; vigil starts storefront)..."
            if plain:
                console.print(starting, highlight=False)
                fleet.start()
            else:
                with console.status(starting):
                    fleet.start()
        except FleetError as exc:
            console.print("[red]the demo fleet did not start:[/]")
            console.print(str(exc), markup=False, highlight=False)
            return 1
        api_key = secrets.token_urlsafe(24)
        sinks.start()
        text = fleet.vigil_config(server_port=sock.getsockname()[1], api_key=api_key, alerting=sinks.receivers(),
                                  runbooks=True)
        (fleet.workdir / "vigil.yaml").write_text(text)
        config = parse_config(text, file=str(fleet.workdir / "vigil.yaml"), env={})
        install_log_masking(Redactor(secret_values(config)))  # vigil's warnings, if any, never show the key
        status = asyncio.run(_watch(fleet, config, api_key, duration, plain, console, summary, sock, sinks))
    except KeyboardInterrupt:  # Ctrl-C while starting, before the event loop took over the signal
        console.print("interrupted while starting; everything is stopped")
        return 130
    finally:
        sock.close()
        fleet.stop()
        sinks.stop()
    summary.load = fleet.load_stats()
    summary.notifications = list(sinks.received)
    for line in summary.lines():
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    return status


async def _watch(fleet: Fleet, config: VigilConfig, api_key: str, duration: float | None, plain: bool,
                 console: Console, summary: DemoSummary, sock: socket.socket | None = None,
                 sinks: Sinks | None = None) -> int:
    from vigil.app import build_app, serve  # the engine and API; imported only when the demo runs

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    host, port = config.server.host, config.server.port
    api_url = f"http://{host}:{port}"
    from vigil.demo.heal import restarters

    app, engine = build_app(config, actuators=cast(Any, restarters(fleet)))  # they can only restart
    await engine.start()
    server = asyncio.create_task(serve(app, host, port, sock=sock))
    started = time.monotonic()  # restarted once the API answers: the duration is time watched
    curve = DailyCurve(day_seconds=fleet.day_seconds, start_hour=fleet.start_hour)
    state = DemoState(api_url=api_url, api_key=api_key, store_url=config.store.url,
                      admin_urls=fleet.admin_urls)
    readings = FleetReadings({n: m.metrics_url for n, m in fleet.services.items()})
    scaler = engine.stages.scale
    deploys = await _serve_deploys(fleet, engine, host, state)
    status = 0
    try:
        async with aiohttp.ClientSession() as session:
            if not await _answers(session, api_url + "/healthz", stop, API_START_TIMEOUT_S, server):
                why = server.exception() if server.done() and not server.cancelled() else None
                console.print(f"[red]vigil's API did not come up on {api_url}[/]"
                              + (f": {why}" if why else ""), highlight=False)
                return 1
            events = EventLines()
            if plain:  # at once: the API and every fault URL, before waiting for storefront
                _say(console, announcement(state))
            if fleet.scaling is not None and fleet.load is None and fleet.with_load:
                scaled = fleet.services[SCALED]
                if not await _answers(session, scaled.health_url, stop, FIRST_REPLICA_TIMEOUT_S):
                    console.print(f"[red]vigil did not start a {SCALED} replica within "
                                  f"{FIRST_REPLICA_TIMEOUT_S:g}s[/]; its log: {scaled.log_path}")
                    return 1
                if stop.is_set():
                    return 0
                await asyncio.to_thread(fleet.start_load)
            started = time.monotonic()
            if plain:
                _say(console, [f"watching {', '.join(fleet.services)}"])
            live = None if plain else Live(render(state), console=console, refresh_per_second=2,
                                           transient=False)
            if live is not None:
                live.start()
            last_status = 0.0
            try:
                while not stop.is_set():
                    elapsed = time.monotonic() - started
                    if duration is not None and elapsed >= duration:
                        break
                    if server.done():
                        console.print("[red]vigil's API server stopped unexpectedly[/]")
                        status = 1
                        break
                    state.elapsed_s = elapsed
                    state.day_hour = curve.hour(time.monotonic() - (fleet.load_started_at or started))
                    _note_transitions(state, engine.health(), elapsed)
                    _note_trouble(state, engine)
                    note_actions(state, engine)
                    state.notifications = sinks.latest() if sinks is not None else []
                    state.stats = engine.stats()
                    state.readings = await readings.read(session)
                    await _note_scaling(state, scaler, elapsed)
                    if live is not None:
                        live.update(render(state))
                    else:
                        _say(console, events.new(state, await _events(engine, events)))
                        if elapsed - last_status >= HEADLESS_STATUS_EVERY_S:
                            last_status = elapsed
                            _say(console, [status_line(state)])
                    await _sleep_or_stop(stop, TICK_S)
            finally:
                if live is not None:
                    live.stop()
                    console.print()
            _note_transitions(state, engine.health(), time.monotonic() - started)
            await _note_scaling(state, scaler, time.monotonic() - started)
            summary.series_stored = await _series_count(session, api_url, api_key)
            summary.samples_stored = await _samples_stored(session, api_url, engine.stats())
    finally:
        await asyncio.to_thread(fleet.stop_load)  # before vigil stops the replicas it serves
        if deploys is not None:
            await deploys.cleanup()
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
        await engine.stop()
        engine.store.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    summary.duration_s = time.monotonic() - started
    summary.health = engine.health()
    summary.probes_run = int(engine.stats().get("probes_run", 0))
    summary.transitions = state.transitions
    summary.scaling, summary.replica_changes = state.scaling, state.replica_changes
    summary.scaling_decisions = scaler.decisions
    return status


async def _serve_deploys(fleet: Fleet, engine: Any, host: str, state: DemoState) -> Any:
    """storefront's deploy endpoint (demo/deploys.py), when vigil's process actuator runs its replicas."""
    from vigil.demo.deploys import Deployer, serve_deploys

    scaled = next((s for s in engine.stages.scale.services if s.name == SCALED), None)
    if fleet.scaling is None or scaled is None:
        return None
    port = free_port(host)
    runner = await serve_deploys(Deployer(fleet, scaled.actuator), host, port)
    state.deploy_url = f"http://{host}:{port}/deploy"
    return runner


def _say(console: Console, lines: list[str]) -> None:
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


async def _events(engine: Any, events: EventLines) -> list[Any]:
    """Events recorded since the newest one printed (read off the event loop: it is a query)."""
    return await asyncio.to_thread(engine.store.events, since=events.events_since, limit=500)


async def _note_scaling(state: DemoState, scaler: Any, elapsed: float) -> None:
    """storefront's replicas as vigil set them, the actuator's ready count and the last decision."""
    counts = await scaler.replica_counts()
    for name, (replicas, ready, stepping) in counts.items():
        cfg = scaler.controllers[name].policy.config
        view = state.scaling.get(name)
        if view is None:
            view = state.scaling[name] = ScalingView(replicas, ready, cfg.min_replicas, cfg.max_replicas,
                                                     cfg.metric.target, cfg.mode)
        last = scaler.last.get(name)
        if last is not None and last.ts != view.decided_ts:
            old = int(last.inputs.get("current_replicas", view.replicas))
            new = int(last.result.get("replicas", old))
            if last.result.get("act") and new != old:
                at = round(max(0.0, elapsed), 1)
                state.replica_changes.append(ReplicaChange(at, name, old, new, last.rule))
            view.rule, view.decided_ts = last.rule, last.ts
            view.decided_at_s = max(0.0, elapsed)
            view.predictive = last.inputs.get("predictive")
        view.replicas, view.ready, view.stepping = replicas, ready, stepping
        view.history = (view.history + [replicas])[-HISTORY:]


def _note_trouble(state: DemoState, engine: Any) -> None:
    """Firing alerts per service and the incidents not resolved, as the engine holds them now."""
    state.alerts = {}
    for a in engine.stages.book.firing.values():
        state.alerts.setdefault(a.service, []).append(a.name)
    state.incidents = [(i.id, i.status.value, i.title) for i in engine.stages.incidents.known.values() if i.open]


def _note_transitions(state: DemoState, health: dict[str, str], elapsed: float) -> None:
    for name, now in health.items():
        before = state.health.get(name, "unknown")
        if now != before:
            state.transitions.append(HealthTransition(round(elapsed, 1), name, before, now))
    state.health = dict(health)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def _answers(session: aiohttp.ClientSession, url: str, stop: asyncio.Event, within_s: float,
                   server: asyncio.Task[None] | None = None) -> bool:
    """Wait until `url` answers 200 (vigil's API; storefront's first replica, which vigil starts),
    a stop, or the server's end. A stop while waiting is not a failure."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and not stop.is_set() and not (server is not None and server.done()):
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as r:
                if r.status == 200:
                    return True
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.1)
    return stop.is_set()


async def _series_count(session: aiohttp.ClientSession, api_url: str, api_key: str) -> int | None:
    try:
        async with session.get(api_url + "/api/v1/series", params={"limit": "100000"},
                               headers={"Authorization": f"Bearer {api_key}"},
                               timeout=aiohttp.ClientTimeout(total=5)) as r:
            if r.status != 200:
                return None
            return len((await r.json()).get("series", []))
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None


async def _samples_stored(session: aiohttp.ClientSession, api_url: str, stats: dict[str, Any]) -> int | None:
    if "samples_ingested" in stats:
        return int(stats["samples_ingested"])
    try:  # otherwise from vigil's own metrics, as any Prometheus would read them
        async with session.get(api_url + "/metrics", timeout=aiohttp.ClientTimeout(total=5)) as r:
            text = await r.text()
    except (aiohttp.ClientError, TimeoutError):
        return None
    total, found = 0.0, False
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "vigil_samples_ingested_total":
                total, found = total + s.value, True
    return int(total) if found else None
