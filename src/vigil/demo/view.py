"""The demo's terminal: where vigil's API is, each service's health and golden signals, storefront's
replicas and vigil's last scaling decision, each self-healing action and its verification, and how to
break a service on purpose."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from vigil.config.redact import mask_url
from vigil.demo.fleet import SCALED
from vigil.demo.readings import ServiceReading
from vigil.heal.verification import verification

HEALTH_STYLE = {"healthy": "bold green", "unhealthy": "bold red", "unknown": "yellow"}
SPARKS = "▁▂▃▄▅▆▇█"
HISTORY = 60  # replica counts kept for the sparkline (one per tick)


@dataclass(frozen=True)
class HealthTransition:
    at_s: float  # seconds since the demo started
    service: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"+{self.at_s:5.1f}s  {self.service}: {self.old} -> {self.new}"


@dataclass(frozen=True)
class ReplicaChange:
    at_s: float
    service: str
    old: int
    new: int
    rule: str

    def __str__(self) -> str:
        return f"+{self.at_s:5.1f}s  {self.service}: {self.old} -> {self.new} replicas ({self.rule})"


VERDICT_STYLE = {"passed": "green", "failed": "red", "not_reached": "red", "verifying": "yellow",
                 "not_started": "dim", "not_run": "dim"}
ACTIONS_SHOWN = 6


@dataclass(frozen=True)
class ActionLine:
    """One self-healing action as the view shows it: what ran where, its state and its verification."""

    id: int
    runbook: str
    service: str
    state: str
    verdict: str  # not_started | verifying | passed | failed | not_reached | not_run
    detail: str  # what verification saw, or why it did not run

    @classmethod
    def of(cls, action: Any) -> ActionLine:
        v = verification(action)
        return cls(action.id, action.runbook, action.service, action.state, v["state"], v["detail"])

    def __str__(self) -> str:
        verdict = self.verdict.replace("_", " ")
        return (f"#{self.id} {self.runbook} on {self.service}: {self.state}; verification {verdict}"
                + (f" ({self.detail})" if self.verdict in ("passed", "failed", "not_reached") else ""))


@dataclass
class ScalingView:
    """A scaled service as the view shows it: vigil's count, the actuator's ready count, the policy's
    bounds and target, and the newest decision."""

    replicas: int
    ready: int | None
    min_replicas: int
    max_replicas: int
    target: float
    mode: str
    rule: str | None = None
    decided_at_s: float | None = None  # demo seconds
    decided_ts: float | None = None  # the decision's own timestamp, to notice a new one
    predictive: str | None = None  # why the forecast floor may or may not act
    stepping: bool = False  # a scaling step is under way (replicas and ready may differ meanwhile)
    history: list[int] = field(default_factory=list)

    @property
    def ready_text(self) -> str:
        return "?" if self.ready is None else str(self.ready)


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
    scaling: dict[str, ScalingView] = field(default_factory=dict)
    replica_changes: list[ReplicaChange] = field(default_factory=list)
    alerts: dict[str, list[str]] = field(default_factory=dict)  # service -> names of its firing alerts
    incidents: list[tuple[int, str, str]] = field(default_factory=list)  # (id, status, title), not resolved
    notifications: list[Any] = field(default_factory=list)  # the newest received by the demo's sinks
    deploy_url: str | None = None  # where a person deploys storefront's versions (demo/deploys.py)
    actions: list[ActionLine] = field(default_factory=list)  # vigil's self-healing, newest last


def note_actions(state: DemoState, engine: Any) -> None:
    """The remediate stage's actions as it holds them now (in memory: no query), newest last."""
    stage = getattr(engine.stages, "remediate", None)
    held = sorted(getattr(stage, "actions", {}).values(), key=lambda a: a.id) if stage is not None else []
    state.actions = [ActionLine.of(a) for a in held[-ACTIONS_SHOWN:]]


def _num(value: float | None, fmt: str, empty: str = "-") -> str:
    return empty if value is None else format(value, fmt)


def _fault_text(fault: dict[str, float]) -> str:
    short = {"latency_ms": lambda v: f"+{v:g}ms", "error_rate": lambda v: f"err {v:.0%}",
             "leak_mb_per_min": lambda v: f"leak {v:g}MB/min", "hang": lambda v: "hang",
             "crash": lambda v: "crash"}
    return ", ".join(short.get(k, lambda v, k=k: f"{k}={v:g}")(v) for k, v in fault.items())


def curl_fault(admin_url: str, body: str) -> str:
    return f"curl -X POST -d {shlex.quote(body)} {admin_url}"  # the service reads JSON whatever the type


def fault_lines(admin_urls: dict[str, str], deploy_url: str | None = None) -> list[str]:
    """Every service's fault URL, named, and how to use one (the live view, headless and piped runs);
    with `deploy_url`, how to deploy a bad version of storefront (vigil rolls it back)."""
    width = max((len(n) for n in admin_urls), default=0)
    out = ["  POST a fault to a service's URL, DELETE it to clear it:"]
    for name, url in admin_urls.items():
        note = "   (reaches every replica: they share a fault file)" if name == SCALED else ""
        out.append(f"  {name:<{width}}  {url}{note}")
    example = admin_urls.get("catalog") or next(iter(admin_urls.values()), "")
    if example:
        errors, slow = curl_fault(example, '{"error_rate": 0.6}'), curl_fault(example, '{"latency_ms": 3000}')
        out += [f"  e.g. {errors}", f"       {slow}   (hang, crash, leak_mb_per_min too)",
                f"       curl -X DELETE {example}"]
    if deploy_url:
        out += [f"  deploy a bad {SCALED} version (vigil rolls it back): "
                f"curl -X POST -d '{{\"bad\": true}}' {deploy_url}"]
    return out


def replicas_text(view: ScalingView | None) -> str:
    if view is None:
        return "1"
    return f"{view.replicas} ({view.ready_text} ready)"


def sparkline(counts: list[int], top: int) -> str:
    return "".join(SPARKS[min(len(SPARKS) - 1, round((len(SPARKS) - 1) * c / max(1, top)))] for c in counts)


def scaling_text(name: str, v: ScalingView) -> Text:
    last = (f"{v.rule} at +{v.decided_at_s:.0f}s" if v.rule and v.decided_at_s is not None else "none yet")
    out = Text.assemble(
        (f"{name} ", "bold"), (sparkline(v.history, v.max_replicas), "cyan"),
        f"  {replicas_text(v)} replicas, {v.min_replicas}..{v.max_replicas}, "
        f"target {v.target:g} req/s per replica, mode {v.mode}\n",
        ("  last decision ", "bold"), last)
    if v.predictive:
        out.append(f"\n  forecast floor: {v.predictive}", style="dim")
    return out


def services_table(state: DemoState) -> Table:
    table = Table(expand=False, header_style="bold")
    for col, justify in (("service", "left"), ("vigil says", "left"), ("alerts", "left"), ("replicas", "right"),
                         ("req/s", "right"), ("errors", "right"), ("p99 ms", "right"), ("memory MB", "right"),
                         ("fault", "left")):
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
        table.add_row(name, Text(health, style=HEALTH_STYLE.get(health, "")), alerts_text(state.alerts.get(name, [])),
                      replicas_text(state.scaling.get(name)), *cells)
    return table


def alerts_text(names: list[str]) -> Text:
    """The firing alerts of a service, summarised: the first name and how many more."""
    if not names:
        return Text("-", style="dim")
    first = sorted(names)[0]
    return Text(first + (f" +{len(names) - 1}" if len(names) > 1 else ""), style="red")


def actions_table(actions: list[ActionLine]) -> Table:
    table = Table(title="self-healing: each action and its verification", title_justify="left", header_style="bold")
    for col in ("#", "runbook", "service", "state", "verification", "seen"):
        table.add_column(col)
    for a in actions:
        table.add_row(str(a.id), a.runbook, a.service, a.state,
                      Text(a.verdict.replace("_", " "), style=VERDICT_STYLE.get(a.verdict, "")),
                      Text(a.detail[:90] + ("…" if len(a.detail) > 90 else ""), style="dim"))
    return table


def render(state: DemoState) -> RenderableType:
    s = state.stats
    head = Text.assemble(
        ("vigil API  ", "bold"), state.api_url, "   docs ", f"{state.api_url}/docs", "\n",
        ("API key    ", "bold"), state.api_key, "  (Authorization: Bearer <key>)\n",
        ("store      ", "bold"), mask_url(state.store_url), "\n",
        ("running    ", "bold"), f"{state.elapsed_s:.0f}s, simulated time of day {int(state.day_hour):02d}:"
                                 f"{int(state.day_hour % 1 * 60):02d}",
        f"   probes run {s.get('probes_run', 0)}",
        f"   samples {s['samples_ingested']}" if "samples_ingested" in s else "")
    faults = "\n".join(fault_lines(state.admin_urls, state.deploy_url))
    hints = Text.assemble(("break something:\n", "bold"), faults + "\n",
                          ("Ctrl-C stops everything.", "dim"))
    parts: list[RenderableType] = [Panel(head, title="vigil demo", expand=False), services_table(state)]
    parts += [scaling_text(name, v) for name, v in state.scaling.items()]
    if state.actions:
        parts.append(actions_table(state.actions))
    if state.incidents:
        parts.append(Text("open incidents:\n" + "\n".join(f"  #{i} [{status}] {title}"
                                                           for i, status, title in state.incidents[-5:])))
    if state.notifications:
        parts.append(Text("notifications received (the demo's SMTP server and webhook):\n"
                          + "\n".join(f"  {n}" for n in state.notifications)))
    if state.replica_changes:
        parts.append(Text("recent scaling:\n" + "\n".join(f"  {c}" for c in state.replica_changes[-5:])))
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
        cell = f"{name}={state.health.get(name, 'unknown')} {rate}"
        view = state.scaling.get(name)
        if view is not None:
            cell += f" replicas={view.replicas}/{view.ready_text} rule={view.rule or '-'}"
        cells.append(cell)
    line = f"[{state.elapsed_s:5.0f}s] " + "  ".join(cells) + f"  probes={state.stats.get('probes_run', 0)}"
    if state.actions:
        line += f"  action {state.actions[-1]}"
    return line
