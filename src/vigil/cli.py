"""The `vigil` command. Thin: each command parses its options and calls into the package."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from vigil import __version__
from vigil.cli_client import incidents_app, silence_app
from vigil.cli_guardrails import audit_app, pause, resume
from vigil.config import ConfigError, load_config
from vigil.config.redact import mask_url
from vigil.config.schema import config_warnings
from vigil.export.cli import export_app
from vigil.keys.cli import keys_app
from vigil.registry import Registry

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="vigil: watches services, detects anomalies, forecasts load, scales, and records why. "
                       "(Incidents, notifications, remediation and a dashboard are planned, not built yet.)")
console = Console()
err_console = Console(stderr=True)

# `vigil bench NAME ...`: each benchmark is its own small typer app, imported only when run.
BENCHMARKS: Registry[typer.Typer] = Registry("benchmark", {
    "ingest": "vigil.bench.ingest:app",
    "probes": "vigil.bench.probes:app",
    "nab": "vigil.bench.nab:app",
    "detect": "vigil.bench.detect:app",
    "forecast": "vigil.bench.forecast:app",
    "autoscale": "vigil.bench.autoscale:app",
    "demo-delay": "vigil.bench.demo_delay:app",
    "rca": "vigil.bench.rca:app",
    "incidents": "vigil.bench.incidents:app",
    "heal": "vigil.bench.heal:app",
    "dashboard": "vigil.bench.dashboard:app",
    "api": "vigil.bench.api:app",
})


def _load_or_exit(path: Path):
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        err_console.print(f"[bold red]invalid configuration[/] ({len(exc.problems)} problem"
                          f"{'s' if len(exc.problems) != 1 else ''}):")
        for p in sorted(exc.problems, key=lambda p: (p.line or 0)):
            err_console.print(f"  {p}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    for warning in config_warnings(cfg):
        err_console.print(f"[yellow]warning:[/] {path}: {warning}", highlight=False, soft_wrap=True)
    return cfg


@app.command("check-config")
def check_config(file: Path = typer.Argument(Path("vigil.yaml"), help="the configuration file")) -> None:
    """Validate a configuration file without starting anything (exit 2 if invalid)."""
    cfg = _load_or_exit(file)
    probes = sum(len(s.probes) for s in cfg.services)
    metrics = sum(len(s.metrics) for s in cfg.services)
    console.print(f"[green]ok[/] {file}: {len(cfg.services)} services, {probes} probes, "
                  f"{metrics} metric sources, store {mask_url(cfg.store.url)}",
                  highlight=False, soft_wrap=True)


@app.command("up")
def up(config: Path = typer.Option(Path("vigil.yaml"), "--config", "-c", help="the configuration file"),
       port: int | None = typer.Option(None, help="override server.port"),
       log_level: str = typer.Option("info", help="debug | info | warning | error")) -> None:
    """Run vigil: watch the configured services and serve the API until Ctrl-C or SIGTERM."""
    from vigil.runner import StartupError, configure_logging, run_loop, run_server, with_session_key

    cfg = _load_or_exit(config)
    if port is not None:
        cfg = cfg.model_copy(update={"server": cfg.server.model_copy(update={"port": port})})
    cfg, session_key = with_session_key(cfg)
    redact = configure_logging(log_level, err_console, cfg)

    def ready(url: str) -> None:
        n = len(cfg.services)
        console.print(f"[bold green]vigil is up[/]: API {url}/docs, metrics {url}/metrics", soft_wrap=True)
        console.print(f"watching {n} service{'s' if n != 1 else ''}; store {redact(cfg.store.url)}",
                      highlight=False, soft_wrap=True)
        if session_key:  # shown once, on purpose: it is this run's only key
            console.print("[yellow]no server.api_keys configured: this run's API key is[/] "
                          f"[bold]{session_key}[/] (send 'Authorization: Bearer <key>')", soft_wrap=True)

    try:
        run_loop(run_server(cfg, on_ready=ready, config_path=config))
    except (StartupError, OSError) as exc:
        err_console.print(f"[red]vigil did not start:[/] {redact(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    console.print("vigil stopped")


@app.command("demo")
def demo(duration: float | None = typer.Option(None, help="stop after this many seconds"),
         headless: bool = typer.Option(False, help="no live view; print a summary at the end"),
         day: float = typer.Option(600.0, help="seconds of demo time per simulated day of traffic"),
         port: int | None = typer.Option(None, help="API port (default: a free one)")) -> None:
    """Start a demo fleet of real local services with a daily traffic curve, and vigil watching it."""
    from vigil.demo.run import run_demo

    raise typer.Exit(run_demo(duration=duration, headless=headless, day_seconds=day, port=port))


def _decision_why(d: Any) -> str:
    """A scale decision in words (replicas, the forecast's verdict, rough demand); others as recorded."""
    if d.kind != "scale":
        return str(d.result)
    inp, res = d.inputs, d.result
    parts = [f"{inp.get('current_replicas')} -> {res.get('replicas')} replicas"
             + ("" if res.get("act") else " (no change made)")]
    parts += [str(inp[k]) for k in ("predictive", "rough_demand") if inp.get(k)]
    return "; ".join(parts)


@app.command("explain")
def explain_cmd(service: str = typer.Argument(..., help="the service to explain"),
                config: Path = typer.Option(Path("vigil.yaml"), "--config", "-c", help="the configuration file"),
                since: str = typer.Option("-1h", help="start: epoch s, RFC 3339, or relative like -1h"),
                until: str = typer.Option("now", help="end"),
                replay: bool = typer.Option(False, help="also re-run the detectors and the service's rules over "
                                                        "the stored data (dry run: nothing is written)")) -> None:
    """What fired for a service in a time range, and why: signals, health changes, decisions."""
    import asyncio
    import time
    from datetime import datetime

    from rich.table import Table

    from vigil.cli_client import store_of
    from vigil.explain import explain
    from vigil.web.timeparse import parse_time

    cfg = _load_or_exit(config)
    if service not in [s.name for s in cfg.services]:
        err_console.print(f"unknown service {service!r}; configured: {', '.join(s.name for s in cfg.services)}")
        raise typer.Exit(2)
    try:
        start, end = parse_time(since, time.time()), parse_time(until, time.time())
    except ValueError as exc:
        err_console.print(str(exc))
        raise typer.Exit(2) from None
    with store_of(cfg, unavailable_exit=1) as store:
        ex = asyncio.run(explain(cfg, store, service, start, end, replay=replay))

    def when(ts: float) -> str:
        return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")

    table = Table(title=f"{service}: {when(start)} to {when(end)}")
    for col in ("time", "what", "source", "severity", "why"):
        table.add_column(col, overflow="fold")
    rows = [(s.ts, "signal " + s.kind, s.source, s.severity.value if hasattr(s.severity, "value") else s.severity,
             f"{s.series}: {s.reason}") for s in ex.signals]
    rows += [(e.ts, e.kind, "engine", "", e.message) for e in ex.events]
    rows += [(d.ts, "decision " + d.kind, d.rule, "", _decision_why(d)) for d in ex.decisions]
    for ts, *rest in sorted(rows):
        table.add_row(when(ts), *rest)
    console.print(table if rows else f"nothing recorded for {service} in that range")
    if ex.replayed is not None:
        console.print(f"\nreplay (dry run): {ex.replayed_points} points of {ex.replayed_series} watched series")
        for s in ex.replayed:
            console.print(f"  {when(s.ts)} would signal {s.kind} ({s.score:.2f}) on {s.series}: {s.reason}",
                          markup=False, highlight=False)
        if not ex.replayed:
            console.print("  no detector would fire on this data")
    if ex.rule_signals is not None:
        console.print(f"\nrules replay (dry run): {ex.rules_replayed} rules of {service}")
        lines = [(s.ts, f"would fire {s.source} ({s.kind}, {s.severity.value}) on {s.series}: {s.reason}")
                 for s in ex.rule_signals]
        lines += [(float(a.ends_at or a.starts_at), f"would clear: {a.service}: {a.name} on "
                   f"{a.labels.get('series', '')}: {a.annotations.get('resolution', '')}")
                  for a in ex.rule_clears or []]
        for ts, line in sorted(lines):
            console.print(f"  {when(ts)} {line}", markup=False, highlight=False)
        if not ex.rule_signals:
            console.print("  no rule would fire on this data")


routes_app = typer.Typer(no_args_is_help=True, help="Where alerts go: the alerting route tree.")
app.add_typer(routes_app, name="routes")
app.add_typer(incidents_app, name="incidents")
app.add_typer(silence_app, name="silence")
app.add_typer(audit_app, name="audit")
app.command("pause")(pause)
app.command("resume")(resume)
app.add_typer(keys_app, name="keys")
app.add_typer(export_app, name="export")


@routes_app.command("test")
def routes_test(labels: list[str] = typer.Argument(None, help="the alert's labels, as name=value"),
                config: Path = typer.Option(Path("vigil.yaml"), "--config", "-c", help="the config file"),
                tree: bool = typer.Option(False, "--tree", help="print the route tree, matches marked"),
                verify: str | None = typer.Option(None, "--verify-receivers",
                                                  help="exit 1 unless exactly these receivers (a,b) match"),
                ) -> None:
    """Which receivers an alert with these labels reaches, and through which routes (as amtool does)."""
    from vigil.incidents.routing import routes_test as run

    out, problem, code = run(_load_or_exit(config).alerting, labels or [], tree, verify)
    for line in out:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if problem:
        err_console.print(problem, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.command("oncall")
def oncall_cmd(config: Path = typer.Option(Path("vigil.yaml"), "--config", "-c", help="the config file"),
               at: str = typer.Option("now", "--at", help="epoch s, RFC 3339, 'now' or like -1h")) -> None:
    """Who is on call now (or --at), in every schedule of oncall.schedules."""
    import time

    from vigil.incidents.oncall import Roster
    from vigil.notify.render import clock_time
    from vigil.web.timeparse import parse_time

    cfg = _load_or_exit(config)
    try:
        t = parse_time(at, time.time())
    except ValueError as exc:
        err_console.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    if not cfg.oncall.schedules:
        console.print("no schedules: add oncall.schedules to the configuration (docs/oncall.md)")
    users = {u.name: u for u in cfg.oncall.users}
    for schedule in cfg.oncall.schedules:
        now = Roster(schedule).current(t)
        if now is None:
            console.print(f"{schedule.name}: nobody on call", markup=False, highlight=False)
            continue
        user = users.get(now.user)
        via = f" (receiver {user.receiver})" if user is not None and user.receiver else ""
        until = f" until {clock_time(now.until)}" if now.until is not None else ""
        console.print(f"{schedule.name}: {now.user}{via}, {now.source}{until}", markup=False, highlight=False,
                      soft_wrap=True)


@app.command("report")
def report_cmd(kind: str = typer.Argument(..., help="daily, weekly or executive"),
               config: Path = typer.Option(Path("vigil.yaml"), "--config", "-c", help="the config file"),
               fmt: str = typer.Option("md", "--format", help="md (Markdown), html or json"),
               out: Path | None = typer.Option(None, "--out", help="write it to this file (default: print)"),
               at: str = typer.Option("now", help="end of the period: epoch s, RFC 3339, or like -1d"),
               time_zone: str = typer.Option("UTC", "--time-zone", help="IANA zone the times are shown in"),
               ) -> None:
    """A report of incidents, SLO impact, availability against SLA and downtime cost, from the store."""
    import time

    from vigil.incidents.report_render import html_report, markdown
    from vigil.incidents.reports import PERIOD_S, build
    from vigil.store import StoreUnavailable, open_store
    from vigil.web.reports import time_zones
    from vigil.web.timeparse import parse_time

    if kind not in PERIOD_S or fmt not in ("md", "html", "json") or time_zone not in time_zones():
        err_console.print("usage: vigil report daily|weekly|executive [--format md|html|json] [--time-zone "
                          f"ZONE]; found {kind!r}, --format {fmt!r}, --time-zone {time_zone!r}", markup=False)
        raise typer.Exit(2)
    cfg = _load_or_exit(config)
    now = time.time()
    try:
        end = parse_time(at, now)
    except ValueError as exc:
        err_console.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    try:
        store = open_store(cfg.store.url, cfg.store.retention)
    except StoreUnavailable as exc:
        err_console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    try:
        rep = build(cfg, store, kind, end, now)
    finally:
        store.close()
    if fmt == "json":
        import orjson

        text = orjson.dumps(rep.view(), option=orjson.OPT_INDENT_2).decode() + "\n"
    else:
        text = html_report(rep, time_zone) if fmt == "html" else markdown(rep, time_zone)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        err_console.print(f"wrote the {kind} report to {out}", markup=False, highlight=False)


chaos_app = typer.Typer(no_args_is_help=True, help="Resilience experiments, in Chaos Toolkit's format.")
app.add_typer(chaos_app, name="chaos")


@chaos_app.command("run")
def chaos_run(experiment: Path = typer.Argument(..., help="the experiment, YAML or JSON"),
              config: Path | None = typer.Option(None, "--config", "-c", help="vigil.yaml: the services, by name, "
                                                 "and which allow chaos; without it only loopback URLs"),
              journal: Path = typer.Option(Path("journal.json"), "--journal", help="where the JSON journal goes"),
              dry_run: bool = typer.Option(False, "--dry-run", help="check everything and show the plan; run nothing"),
              ) -> None:
    """Run an experiment: steady state before, method, steady state after, rollbacks always. Exit status
    0 the system held, 1 it deviated, 2 not concluded (invalid, refused, aborted, failed or interrupted)."""
    from vigil.chaos.command import run_command

    cfg = _load_or_exit(config) if config is not None else None
    raise typer.Exit(run_command(experiment, cfg, config, journal, dry_run))


@app.command("version")
def version() -> None:
    """Print vigil's version."""
    console.print(__version__)


@app.command("bench", context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             add_help_option=False)
def bench(ctx: typer.Context,
          name: str | None = typer.Argument(None, help=f"one of: {', '.join(BENCHMARKS.kinds())}")) -> None:
    """Run a benchmark: vigil bench NAME [--json] [options]; vigil bench NAME --help for its options."""
    if name is None or name in ("--help", "-h"):
        console.print("usage: vigil bench NAME [OPTIONS]\n\nbenchmarks: " + ", ".join(BENCHMARKS.kinds()))
        raise typer.Exit(0)
    if name not in BENCHMARKS:
        err_console.print(f"unknown benchmark {name!r}; choose one of: {', '.join(BENCHMARKS.kinds())}")
        raise typer.Exit(2)
    sub = BENCHMARKS.load(name)
    sub(args=list(ctx.args), prog_name=f"vigil bench {name}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
