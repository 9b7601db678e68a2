"""`vigil bench demo-delay`: how long an injected fault in the demo fleet takes to become a signal.

Starts the real demo `Fleet` (loopback, real processes), runs vigil on the fleet's generated config
(scrape and probes every S seconds, its `server-errors` and `target-down` rules, plus a `leak` rule on
`process_resident_memory_bytes` added here only), lets the detectors learn normal behaviour for a warm-up,
then injects each fault in turn through
`POST /admin/fault`, and times injection -> first Signal for that service in the store (any kind:
anomaly, rule) or first health change of its probe to unhealthy (event `health`). Signals on the demo's
ground-truth series (`demo_fault`, `demo_leaked_bytes`) and on the `/admin/fault` route's own
request series are not counted: they report the injection itself. Then it clears the fault, waits
for recovery, counts the signals of a quiet window (the background rate, to judge how likely a
"detection" is chance), and moves on. The issue's target: 2 scrape intervals (leak: 10 minutes).

`--runs N` (default 3) injects each fault N times in a row (each run cleared and recovered before the
next) on the same fleet and engine. One delay is noisy (where the injection falls within the scrape
interval alone moves it by up to S), so each fault's row reports the median: under the keys a single
run used (`delay_s`, `delay_scrape_intervals`, `detected`, `within_target`, `signal` of the run
nearest the median), plus `delay_min_s`, `delay_max_s`, `delays_s` (each run, null when missed),
`runs` and `detected_runs`. `detected` and `within_target` hold only if every run was detected; the
median is over the detected runs. `signals_in_quiet_before` sums the runs' quiet windows. The
detectors' cooldown (default 5 minutes: no second signal on a series within it) is set to `--recovery`
here: runs follow each other about every 2 x recovery + detection, and with the default cooldown the
second run of a fault would measure the cooldown, not the detection."""

from __future__ import annotations

import asyncio
import statistics
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
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


def bench_config(fleet: Any, scrape_s: float, leak_window_s: float, leak_min_growth: float,
                 cooldown_s: float) -> VigilConfig:
    """The fleet's generated config at interval S, plus a leak rule on each service's memory, and the
    detectors' cooldown shortened to `cooldown_s` so that one run's signal does not silence the next
    run's on the same series (runs are closer together than the default 5 minutes)."""
    from vigil.demo.run import free_port

    text = fleet.vigil_config(server_port=free_port(), probe_interval_s=scrape_s, scrape_interval_s=scrape_s,
                              probe_timeout_s=min(2.0, 0.8 * scrape_s))
    data = yaml.safe_load(text)
    for svc in data["services"]:
        svc.setdefault("detect", {})["cooldown"] = f"{cooldown_s:g}s"
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


def fault_knobs(fault: str, base_ms: float, opts: dict[str, Any]) -> dict[str, Any]:
    knobs: dict[str, dict[str, Any]] = {
        "latency": {"latency_ms": round(4 * base_ms, 2)},  # total about 5x normal
        "errors": {"error_rate": 0.2},
        "crash": {"crash": True},
        "leak": {"leak_mb_per_min": opts["leak_mb_per_min"]},
    }
    return knobs[fault]


async def trial(engine: Any, fleet: Any, http: Any, fault: str, target: str, knobs: dict[str, Any],
                opts: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    """Inject one fault, time its first signal, clear it and wait for recovery plus a quiet window."""
    member = fleet.services[target]
    timeout = opts["leak_timeout"] if fault == "leak" else opts["detect_timeout"]
    quiet = await signals_of(engine, target, engine.clock.now() - opts["recovery"])
    t_inject = engine.clock.now()
    try:
        async with http.post(member.admin_url, json=knobs) as r:
            await r.read()
    except aiohttp.ClientError:
        pass  # a crash may close the connection before the answer
    hit = await wait_signal(engine, target, t_inject, timeout)
    row: dict[str, Any] = {"detected": hit is not None, "delay_s": None, "signal": None,
                           "signals_in_quiet_before": len(quiet)}
    if hit is not None:
        row.update(delay_s=round(max(0.0, hit[0] - t_inject), 2), signal=hit[1])
    say(f"  -> {'detected' if hit else 'NOT detected'}"
        + (f" after {row['delay_s']}s: {hit[1]['kind']} {hit[1]['reason'][:100]}" if hit else ""))
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
    return row


def summary(fault: str, target: str, knobs: dict[str, Any], trials: list[dict[str, Any]], S: float,
            recovery: float) -> dict[str, Any]:
    """One row per fault: the median delay under the keys of a single run, plus min, max and each run."""
    delays = [t["delay_s"] for t in trials if t["delay_s"] is not None]
    median = round(statistics.median(delays), 2) if delays else None
    limit = 600 if fault == "leak" else 2 * S
    # the signal shown is the one of the run nearest the median
    near = min((t for t in trials if t["delay_s"] is not None), key=lambda t: abs(t["delay_s"] - median),
               default=None)
    detected = len(delays) == len(trials)
    return {"fault": fault, "service": target, "knobs": knobs, "runs": len(trials),
            "detected": detected, "detected_runs": len(delays),
            "delay_s": median, "delay_min_s": min(delays, default=None), "delay_max_s": max(delays, default=None),
            "delay_scrape_intervals": None if median is None else round(median / S, 2),
            "delays_s": [t["delay_s"] for t in trials], "signal": near["signal"] if near else None,
            "within_target": bool(delays) and detected and median is not None and median <= limit,
            "quiet_s": recovery, "signals_in_quiet_before": sum(t["signals_in_quiet_before"] for t in trials)}


async def run(opts: dict[str, Any], console: Console) -> dict[str, Any]:
    from vigil.app import build_app
    from vigil.demo.fleet import Fleet

    S = opts["scrape_interval"]
    warmup = opts["warmup"] if opts["warmup"] is not None else (min_points() + 8) * S
    results: list[dict[str, Any]] = []
    out: dict[str, Any] = {"scrape_interval_s": S, "warmup_s": warmup, "min_points": min_points(),
                           "runs": opts["runs"], "target_scrape_intervals": 2, "leak_target_s": 600,
                           "faults": results}
    with Fleet(day_seconds=opts["day_seconds"], seed=opts["seed"]) as fleet:
        config = bench_config(fleet, S, opts["leak_window"], opts["leak_min_growth"], opts["recovery"])
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
                with progress_bar(console) as bar:
                    task = bar.add_task("faults", total=len(opts["faults"]) * opts["runs"])

                    def say(line: str) -> None:
                        bar.console.print(line, markup=False, highlight=False)

                    for fault in opts["faults"]:
                        target = opts["crash_service"] if fault == "crash" else svc
                        knobs = fault_knobs(fault, base_ms, opts)
                        trials = []
                        for i in range(opts["runs"]):
                            bar.update(task, description=f"{fault} {i + 1}/{opts['runs']}")
                            say(f"{fault} on {target} (run {i + 1} of {opts['runs']}): {knobs}")
                            trials.append(await trial(engine, fleet, http, fault, target, knobs, opts, say))
                            bar.advance(task)
                        results.append(summary(fault, target, knobs, trials, S, opts["recovery"]))
                gt = await asyncio.to_thread(engine.store.signals, since=t_start, limit=10000)
                out["ground_truth_signals_ignored"] = sum(1 for s in gt if ground_truth(s.series))
        finally:
            await engine.stop()
            store = getattr(engine, "store", None)
            if store is not None and hasattr(store, "close"):
                store.close()
    return out


def progress_bar(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


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
                                              "count signals over this long as background before the next; "
                                              "also the detectors' cooldown"),
    day_seconds: float = typer.Option(600.0, help="the fleet's simulated day (s)"),
    seed: int | None = typer.Option(1, help="fleet seed"),
    runs: int = typer.Option(3, min=1, help="inject each fault this many times; the table and JSON give the "
                                          "median delay (min and max beside it)"),
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
        "recovery": recovery, "day_seconds": day_seconds, "seed": seed, "runs": runs}
    out = asyncio.run(run(opts, console))
    if as_json:
        print(orjson.dumps(out).decode())
        return
    table = Table(title=f"detection delay in the demo (S = {scrape_interval:g}s; target 2 S, leak 600 s; "
                        f"{runs} run{'s' if runs > 1 else ''} per fault)")
    for col in ("fault", "service", "detected", "median s", "min s", "max s", "median / S", "first signal"):
        table.add_column(col)
    for r in out["faults"]:
        sig = r["signal"] or {}
        table.add_row(r["fault"], r["service"], f"{r['detected_runs']}/{r['runs']}", *(
            "-" if r[k] is None else f"{r[k]:.1f}"
            for k in ("delay_s", "delay_min_s", "delay_max_s", "delay_scrape_intervals")),
            f"{sig.get('kind', '')} {sig.get('reason', '')}"[:80])
    Console().print(table)
