"""`vigil bench dashboard`: how long the dashboard's overview takes to be ready in a real browser
(Debian's chromium, headless, through Playwright) for a fleet of N services, against a real vigil
server on loopback. Ready means the overview drew its data (`body[data-ready="1"]`). The baseline, in
the same run and browser, is the time to show the page's shell (the sign-in form): the ratio is what
the data costs. Then the first service's page over a year (`#/service/svc0/1y`), its series holding
`--rollup-days` of hourly roll-ups: the time until its charts are drawn from them.
Playwright is a test extra: `pip install -e '.[test]'`."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import typer

CHROMIUM = "/usr/bin/chromium"
KEY = "bench-dashboard-key-0123456789"
READY_TIMEOUT_MS = 120_000

app = typer.Typer(add_completion=False, help=__doc__)


# The first service's series: CPU, memory, requests and a latency histogram's quantiles, as a scrape stores them.
SERVICE_SERIES = [("process_cpu_seconds_total:rate", {}), ("process_resident_memory_bytes", {}),
                  ("http_requests_total:rate", {}), ("http_good_total:rate", {}),
                  *[("http_request_duration_seconds", {"quantile": q}) for q in ("0.5", "0.9", "0.99")]]
SLO = ("    rules:\n      - {kind: slo, name: availability, objective: 99.9, good: http_good_total:rate, "
       "total: http_requests_total:rate}\n")


def fleet_config(services: int, db: Path) -> str:
    """N services (no probes: the engine runs, nothing is collected), each depending on up to two of
    the ones before it, so the dependency map has edges; the first has an SLO."""
    lines = [f"store:\n  url: sqlite:///{db}\nserver:\n  api_keys:\n    - name: bench\n      key: {KEY}\nservices:"]
    for i in range(services):
        deps = ", ".join(f"svc{j}" for j in range(max(0, i - 2), i)) if i % 7 else ""
        lines.append(f"  - name: svc{i}\n    depends_on: [{deps}]" + ("\n" + SLO.rstrip("\n") if i == 0 else ""))
    return "\n".join(lines) + "\n"


def seed_year(db: Path, days: int, now: float) -> None:
    """svc0's series, each with `days` of hourly roll-ups ending now."""
    from vigil.bench.api import write_hourly_rollups
    from vigil.model import Sample, SeriesKey
    from vigil.store import open_store

    store = open_store(f"sqlite:///{db}")
    try:
        store.write_samples([Sample(SeriesKey.of(n, {"service": "svc0", **labels}), now, 1.0)
                             for n, labels in SERVICE_SERIES])
        if days:
            write_hourly_rollups(store, days, now)
    finally:
        store.close()


def measure(services: int = 1000, runs: int = 3, chromium: str = CHROMIUM, rollup_days: int = 365
            ) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from vigil.app import build_app
    from vigil.config import parse_config
    from vigil.web.threaded import served_in_thread

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        seed_year(db, rollup_days, time.time())
        web, engine = build_app(parse_config(fleet_config(services, db), env={}), collectors=[])
        with served_in_thread(web, engine) as url:
            figures = _sign_ins(url, services, runs, chromium, sync_playwright)
        figures["rollup_days"] = rollup_days
        return figures


def _sign_ins(url: str, services: int, runs: int, chromium: str, sync_playwright: Any) -> dict[str, Any]:
    shell, ready, year = [], [], []
    points = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            for _ in range(runs):
                page = browser.new_context().new_page()
                started = time.perf_counter()
                page.goto(url + "/")
                page.wait_for_selector("#login-key", timeout=READY_TIMEOUT_MS)
                shell.append(time.perf_counter() - started)
                page.fill("#login-key", KEY)
                started = time.perf_counter()
                page.click("#login button[type=submit]")
                page.wait_for_selector("body[data-ready='1']", timeout=READY_TIMEOUT_MS)
                ready.append(time.perf_counter() - started)
                drawn = page.locator("#services a.svc").count()
                if drawn != services:
                    raise RuntimeError(f"the overview shows {drawn} of {services} services")
                started = time.perf_counter()
                page.goto(url + "/#/service/svc0/1y")
                page.wait_for_selector("#metrics[data-range='1y'] .chart[data-resolution='1h'] canvas",
                                       timeout=READY_TIMEOUT_MS)
                year.append(time.perf_counter() - started)
                points = max(int(p or 0) for p in page.locator("#metrics .chart").evaluate_all(
                    "(charts) => charts.map((c) => c.dataset.points)"))
                page.context.close()
        finally:
            browser.close()
    median_ready, median_shell = statistics.median(ready), statistics.median(shell)
    return {"services": services, "runs": runs, "overview_interactive_s": round(median_ready, 3),
            "overview_interactive_max_s": round(max(ready), 3), "page_shell_s": round(median_shell, 3),
            "ratio_to_shell": round(median_ready / median_shell, 2) if median_shell else None,
            "service_year_s": round(statistics.median(year), 3), "service_year_chart_points": points}


@app.command()
def main(services: int = typer.Option(1000, min=1, max=20_000, help="services in the fleet"),
         runs: int = typer.Option(3, min=1, max=50, help="sign-ins measured (the median is reported)"),
         chromium: str = typer.Option(CHROMIUM, help="the browser binary"),
         rollup_days: int = typer.Option(365, min=0, max=800, help="days of hourly roll-ups of the first "
                                                                   "service's series"),
         json: bool = typer.Option(False, "--json", help="one JSON object of the figures")) -> None:
    """Time from signing in to the overview drawn with its data, in headless chromium."""
    if not Path(chromium).exists():
        typer.echo(f"no browser at {chromium}; install Debian's chromium (scripts/test-services.sh) or "
                   "give --chromium", err=True)
        raise typer.Exit(2)
    figures = measure(services, runs, chromium, rollup_days)
    if json:
        sys.stdout.write(orjson.dumps(figures).decode() + "\n")
        return
    for key, value in figures.items():
        typer.echo(f"{key:28} {value}")
