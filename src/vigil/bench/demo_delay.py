"""`vigil bench demo-delay`: how long an injected fault in the demo fleet takes to become a signal.

Starts the real demo `Fleet` (loopback, real processes), runs vigil on the fleet's generated config
(scrape and probes every S seconds, plus a `leak` rule on `process_resident_memory_bytes` added here
only), lets the detectors learn normal behaviour for a warm-up, then injects each fault in turn through
`POST /admin/fault`, and times injection -> first Signal for that service in the store (any kind:
anomaly, rule) or first health change of its probe to unhealthy (event `health`). Signals on the demo's
ground-truth series (`demo_fault`, `demo_leaked_bytes`) and on the `/admin/fault` route's own
request series are not counted: they report the injection itself. Then it clears the fault, waits for recovery, counts the signals of a quiet window (the
background rate, to judge how likely a "detection" is chance), and moves on. The issue's target: 2 scrape intervals (leak: 10 minutes)."""

from __future__ import annotations

import asyncio
import statistics
import time
import urllib.request
from typing import Any

import aiohttp
import orjson
import typer
import yaml
from rich.console import Console
from rich.table import Table

from vigil.config import VigilConfig, parse_config

app = typer.Typer(add_completion=False)

FAULTS = ("latency", "errors", "crash", "leak")
POLL_S = 0.25
GROUND_TRUTH = ("demo_fault", "demo_leaked_bytes")


def min_points() -> int:
    """The default detector's minimum history before it scores."""
    from vigil.detect import DEFAULT_DETECTOR, DETECTORS
    from vigil.detect import kernel as K

    cls = DETECTORS.load(DEFAULT_DETECTOR)
    return int(getattr(cls, "PARAMS", {}).get("min_points", getattr(cls, "DEFAULTS", {}).get(K.P_MIN_POINTS, 32)))


def bench_config(fleet: Any, scrape_s: float, leak_window_s: float, leak_min_growth: float) -> VigilConfig:
    """The fleet's generated config at interval S, plus a leak rule on each service's memory."""
    from vigil.demo.run import free_port

    text = fleet.vigil_config(server_port=free_port(), probe_interval_s=scrape_s, scrape_interval_s=scrape_s,
                              probe_timeout_s=min(2.0, 0.8 * scrape_s))
    data = yaml.safe_load(text)
    for svc in data["services"]:
        svc.setdefault("rules", []).append({
            "kind": "leak", "name": "memory-leak", "series": "process_resident_memory_bytes",
            "window": f"{leak_window_s:g}s", "evaluate_every": f"{scrape_s:g}s",
            "min_growth_pct_per_hour": leak_min_growth,
        })
    text = yaml.safe_dump(data, sort_keys=False)
    (fleet.workdir / "vigil.yaml").write_text(text)
    return parse_config(text, file="<demo-delay config>", env={})


def normal_latency_ms(url: str, n: int = 30) -> float:
    """Median latency of `n` direct requests to a business endpoint (client side: an upper bound)."""
    took = []
    for _ in range(n):
        t0 = time.perf_counter()
        with urllib.request.urlopen(url, timeout=5) as resp:
            resp.read()
        took.append((time.perf_counter() - t0) * 1000)
    return statistics.median(took)


def ground_truth(series: str) -> bool:
    """The demo's own fault bookkeeping (`demo_fault{knob}`, `demo_leaked_bytes`) and the requests to
    `/admin/fault` (the injection itself shows in `http_requests_total{route="/admin/fault"}`): a
    signal on those says a fault was injected, not that its effects were seen, so it is not counted."""
    return series.startswith(GROUND_TRUTH) or 'route="/admin/fault"' in series


async def signals_of(engine: Any, service: str, since: float, until: float | None = None) -> list[Any]:
    """Signals for `service` in [since, until), ground-truth series left out."""
    sigs = await asyncio.to_thread(engine.store.signals, since=since, until=until, service=service, limit=10000)
    return [s for s in sigs if not ground_truth(s.series) and (until is None or s.ts < until)]


async def first_signal(engine: Any, service: str, since: float) -> tuple[float, dict[str, str]] | None:
    """(ts, {kind, reason}) of the first signal or unhealthy health change for `service` since `since`."""
    sigs = await signals_of(engine, service, since)
    evs = await asyncio.to_thread(engine.store.events, since=since, service=service, kind="health", limit=1000)
    found: list[tuple[float, dict[str, str]]] = []
    found += [(s.ts, {"kind": s.kind, "source": s.source, "series": s.series, "reason": s.reason}) for s in sigs]
    found += [(e.ts, {"kind": "health", "source": "probe", "series": str(e.data.get("probe", "")),
                      "reason": e.message}) for e in evs if e.data.get("after") != "healthy"]
    return min(found, key=lambda f: f[0]) if found else None


async def wait_signal(engine: Any, service: str, since: float, timeout: float) -> tuple[float, dict[str, str]] | None:
    deadline = time.monotonic() + timeout
    while True:
        hit = await first_signal(engine, service, since)
        if hit is not None or time.monotonic() >= deadline:
            return hit
        await asyncio.sleep(POLL_S)


async def wait_healthy(engine: Any, service: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine.health().get(service) == "healthy":
            return True
        await asyncio.sleep(POLL_S)
    return False


async def run(opts: dict[str, Any], console: Console) -> dict[str, Any]:
    from vigil.app import build_app
    from vigil.demo.fleet import Fleet

    S = opts["scrape_interval"]
    warmup = opts["warmup"] if opts["warmup"] is not None else (min_points() + 8) * S
    results: list[dict[str, Any]] = []
    out: dict[str, Any] = {"scrape_interval_s": S, "warmup_s": warmup, "min_points": min_points(),
                           "target_scrape_intervals": 2, "leak_target_s": 600, "faults": results}
    with Fleet(day_seconds=opts["day_seconds"], seed=opts["seed"]) as fleet:
        config = bench_config(fleet, S, opts["leak_window"], opts["leak_min_growth"])
        _, engine = build_app(config)
        await engine.start()
        try:
            async with aiohttp.ClientSession() as http:
                svc = opts["service"]
                base_ms = await asyncio.to_thread(normal_latency_ms, fleet.services[svc].url + "/products")
                out["normal_latency_ms"] = round(base_ms, 2)
                t_start = engine.clock.now()
                console.print(f"[bold]warm-up[/] {warmup:g}s (min_points {min_points()} x S={S:g}s); "
                              f"{svc} normal latency {base_ms:.1f} ms")
                await asyncio.sleep(warmup)
                warm_sigs = await asyncio.to_thread(engine.store.signals, since=t_start, limit=10000)
                out["warmup_signals"] = sum(1 for s in warm_sigs if not ground_truth(s.series))
                for fault in opts["faults"]:
                    target = opts["crash_service"] if fault == "crash" else svc
                    member = fleet.services[target]
                    all_knobs: dict[str, dict[str, Any]] = {
                        "latency": {"latency_ms": round(4 * base_ms, 2)},  # total about 5x normal
                        "errors": {"error_rate": 0.2},
                        "crash": {"crash": True},
                        "leak": {"leak_mb_per_min": opts["leak_mb_per_min"]},
                    }
                    knobs = all_knobs[fault]
                    timeout = opts["leak_timeout"] if fault == "leak" else opts["detect_timeout"]
                    quiet_from = engine.clock.now() - opts["recovery"]
                    quiet = await signals_of(engine, target, quiet_from)
                    console.print(f"[bold]{fault}[/] on {target}: {knobs} (waiting up to {timeout:g}s)")
                    t_inject = engine.clock.now()
                    try:
                        async with http.post(member.admin_url, json=knobs) as r:
                            await r.read()
                    except aiohttp.ClientError:
                        pass  # a crash may close the connection before the answer
                    hit = await wait_signal(engine, target, t_inject, timeout)
                    row: dict[str, Any] = {"fault": fault, "service": target, "knobs": knobs,
                                           "detected": hit is not None, "delay_s": None,
                                           "delay_scrape_intervals": None, "signal": None,
                                           "quiet_s": opts["recovery"],
                                           "signals_in_quiet_before": len(quiet)}
                    if hit is not None:
                        delay = max(0.0, hit[0] - t_inject)
                        row.update(delay_s=round(delay, 2), delay_scrape_intervals=round(delay / S, 2),
                                   signal=hit[1])
                        limit = 600 if fault == "leak" else 2 * S
                        row["within_target"] = delay <= limit
                    else:
                        row["within_target"] = False
                    console.print(f"  -> {'detected' if hit else 'NOT detected'}"
                                  + (f" after {row['delay_s']}s: {hit[1]['kind']} {hit[1]['reason'][:100]}" if hit else ""),
                                  markup=False, highlight=False)
                    results.append(row)
                    # clear and recover
                    if fault == "crash":
                        await asyncio.to_thread(fleet.restart, target)
                    else:
                        try:
                            async with http.delete(member.admin_url) as r:
                                await r.read()
                        except aiohttp.ClientError:
                            pass
                    await wait_healthy(engine, target, opts["recovery"] + 30)
                    await asyncio.sleep(2 * opts["recovery"])  # settle, then a quiet window before the next
                gt = await asyncio.to_thread(engine.store.signals, since=t_start, limit=10000)
                out["ground_truth_signals_ignored"] = sum(1 for s in gt if ground_truth(s.series))
        finally:
            await engine.stop()
            store = getattr(engine, "store", None)
            if store is not None and hasattr(store, "close"):
                store.close()
    return out


@app.command()
def main(
    scrape_interval: float = typer.Option(5.0, "--scrape-interval", help="scrape and probe interval S (s)"),
    warmup: float | None = typer.Option(None, help="learning time before the first fault (s); "
                                                      "default (min_points + 8) x S"),
    faults: str = typer.Option(",".join(FAULTS), help="comma-separated, in order: " + ",".join(FAULTS)),
    service: str = typer.Option("catalog", help="service for latency, errors and leak"),
    crash_service: str = typer.Option("payments", help="non-critical service to crash (then restarted)"),
    detect_timeout: float = typer.Option(60.0, help="wait this long for a signal (latency, errors, crash)"),
    leak_timeout: float = typer.Option(600.0, help="wait this long for the leak's signal (demo time = wall)"),
    leak_mb_per_min: float = typer.Option(20.0, help="the leak fault's rate"),
    leak_window: float = typer.Option(120.0, help="the leak rule's window (s)"),
    leak_min_growth: float = typer.Option(10.0, help="the leak rule's min_growth_pct_per_hour"),
    recovery: float = typer.Option(30.0, help="after a fault is cleared and healthy: settle this long, then "
                                              "count signals over this long as background before the next"),
    day_seconds: float = typer.Option(600.0, help="the fleet's simulated day (s)"),
    seed: int | None = typer.Option(1, help="fleet seed"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Detection delay of injected faults in the demo fleet (issue 3's target: 2 scrape intervals)."""
    console = Console(stderr=True)
    chosen = [f.strip() for f in faults.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in FAULTS]
    if unknown:
        console.print(f"unknown fault(s) {unknown}; choose from {', '.join(FAULTS)}")
        raise typer.Exit(2)
    opts: dict[str, Any] = {
        "scrape_interval": scrape_interval, "warmup": warmup, "faults": chosen, "service": service,
        "crash_service": crash_service, "detect_timeout": detect_timeout, "leak_timeout": leak_timeout,
        "leak_mb_per_min": leak_mb_per_min, "leak_window": leak_window, "leak_min_growth": leak_min_growth,
        "recovery": recovery, "day_seconds": day_seconds, "seed": seed}
    out = asyncio.run(run(opts, console))
    if as_json:
        print(orjson.dumps(out).decode())
        return
    table = Table(title=f"detection delay in the demo (S = {scrape_interval:g}s; target 2 S, leak 600 s)")
    for col in ("fault", "service", "detected", "delay s", "delay / S", "first signal"):
        table.add_column(col)
    for r in out["faults"]:
        sig = r["signal"] or {}
        table.add_row(r["fault"], r["service"], "yes" if r["detected"] else "no",
                      "-" if r["delay_s"] is None else f"{r['delay_s']:.1f}",
                      "-" if r["delay_scrape_intervals"] is None else f"{r['delay_scrape_intervals']:.1f}",
                      f"{sig.get('kind', '')} {sig.get('reason', '')}"[:90])
    Console().print(table)
