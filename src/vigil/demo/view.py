"""The demo's terminal: where vigil's API is, each service's health and golden signals, and how
to break a service on purpose."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from vigil.demo.readings import ServiceReading

HEALTH_STYLE = {"healthy": "bold green", "unhealthy": "bold red", "unknown": "yellow"}


@dataclass(frozen=True)
class HealthTransition:
    at_s: float  # seconds since the demo started
    service: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"+{self.at_s:5.1f}s  {self.service}: {self.old} -> {self.new}"


@dataclass
class DemoState:
    api_url: str
    api_key: str
    store_url: str
    admin_urls: dict[str, str]
    elapsed_s: float = 0.0
    day_hour: float = 0.0
    health: dict[str, str] = field(default_factory=dict)
    readings: dict[str, ServiceReading] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    transitions: list[HealthTransition] = field(default_factory=list)


def _num(value: float | None, fmt: str, empty: str = "-") -> str:
    return empty if value is None else format(value, fmt)


def _fault_text(fault: dict[str, float]) -> str:
    short = {"latency_ms": lambda v: f"+{v:g}ms", "error_rate": lambda v: f"err {v:.0%}",
             "leak_mb_per_min": lambda v: f"leak {v:g}MB/min", "hang": lambda v: "hang",
             "crash": lambda v: "crash"}
    return ", ".join(short.get(k, lambda v, k=k: f"{k}={v:g}")(v) for k, v in fault.items())


def curl_fault(admin_url: str, body: str) -> str:
    return f"curl -X POST -d {shlex.quote(body)} {admin_url}"  # the service reads JSON whatever the type


def services_table(state: DemoState) -> Table:
    table = Table(expand=False, header_style="bold")
    for col, justify in (("service", "left"), ("vigil says", "left"), ("req/s", "right"),
                         ("errors", "right"), ("p99 ms", "right"), ("memory MB", "right"), ("fault", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for name in state.admin_urls:
        health = state.health.get(name, "unknown")
        r = state.readings.get(name)
        if r is None or not r.reachable:
            cells = ["-", "-", "-", "-", "[red]not answering[/]"]
        else:
            cells = [_num(r.request_rate, ".1f"),
                     _num(None if r.error_ratio is None else 100 * r.error_ratio, ".0f") + "%"
                     if r.error_ratio is not None else "-",
                     _num(None if r.p99_s is None else 1000 * r.p99_s, ".0f"),
                     _num(None if r.memory_bytes is None else r.memory_bytes / 2**20, ".0f"),
                     _fault_text(r.fault)]
        table.add_row(name, Text(health, style=HEALTH_STYLE.get(health, "")), *cells)
    return table


def render(state: DemoState) -> RenderableType:
    s = state.stats
    head = Text.assemble(
        ("vigil API  ", "bold"), state.api_url, "   docs ", f"{state.api_url}/docs", "\n",
        ("API key    ", "bold"), state.api_key, "  (Authorization: Bearer <key>)\n",
        ("store      ", "bold"), state.store_url, "\n",
        ("running    ", "bold"), f"{state.elapsed_s:.0f}s, simulated time of day {int(state.day_hour):02d}:"
                                 f"{int(state.day_hour % 1 * 60):02d}",
        f"   probes run {s.get('probes_run', 0)}",
        f"   samples {s['samples_ingested']}" if "samples_ingested" in s else "")
    some_admin = state.admin_urls.get("catalog") or next(iter(state.admin_urls.values()), "")
    errors, slow = curl_fault(some_admin, '{"error_rate": 0.6}'), curl_fault(some_admin, '{"latency_ms": 3000}')
    hints = Text.assemble(
        ("break something:\n", "bold"),
        f"  {errors}\n",
        f"  {slow}      (hang, crash, leak_mb_per_min too)\n",
        f"  curl -X DELETE {some_admin}      (clear)\n",
        ("Ctrl-C stops everything.", "dim"))
    parts: list[RenderableType] = [Panel(head, title="vigil demo", expand=False), services_table(state)]
    if state.transitions:
        parts.append(Text("recent health changes:\n" + "\n".join(f"  {t}" for t in state.transitions[-5:])))
    parts.append(hints)
    return Group(*parts)


def status_line(state: DemoState) -> str:
    """One line for headless runs."""
    cells = []
    for name in state.admin_urls:
        r = state.readings.get(name)
        rate = f"{r.request_rate:.1f}/s" if r is not None and r.request_rate is not None else "-"
        cells.append(f"{name}={state.health.get(name, 'unknown')} {rate}")
    return f"[{state.elapsed_s:5.0f}s] " + "  ".join(cells) + f"  probes={state.stats.get('probes_run', 0)}"
