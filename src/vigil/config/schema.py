"""The root of the configuration schema (vigil.yaml)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from vigil.config.alerting import AlertingConfig, resolve_alerting
from vigil.config.detect import DetectConfig
from vigil.config.forecast import ForecastConfig
from vigil.config.incidents import IncidentsConfig
from vigil.config.loader import (
    ConfigError,
    ConfigProblem,
    Document,
    format_path,
    load_file,
    problems_from_validation,
    read_yaml,
)
from vigil.config.oncall import OnCallConfig, oncall_problems
from vigil.config.redact import secret_paths
from vigil.config.reports import ReportScheduleConfig
from vigil.config.rules import Rule
from vigil.config.runbooks import RemediationConfig, Runbook, runbook_problems
from vigil.config.scaling import ScalingPolicyConfig
from vigil.config.sources import MetricSource, Probe
from vigil.config.types import Duration, Secret, Strict

_SERVICE_NAME = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,62})$")


class Service(Strict):
    name: str
    description: str = ""
    depends_on: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    probes: list[Probe] = Field(default_factory=list)
    metrics: list[MetricSource] = Field(default_factory=list)
    detect: DetectConfig = DetectConfig()
    scaling: ScalingPolicyConfig | None = None
    rules: list[Rule] = Field(default_factory=list)
    forecast: ForecastConfig = ForecastConfig()
    escalation: str | None = Field(None, description="the escalation policy (oncall.escalation_policies) of "
                                                     "this service's incidents")
    impact: float = Field(default=1.0, gt=0, le=16,
                          description="how much this service's trouble weighs: 2 lifts its alerts one severity "
                                      "level in its incidents (warning to high), 0.5 lowers one")
    sla: float | None = Field(default=None, gt=0, le=100,
                              description="availability promised, in percent (99.9)")
    downtime_cost_per_minute: float | None = Field(default=None, ge=0,
                                                   description="what a minute of outage costs (in reports)")
    chaos: Literal["allowed", "not allowed"] = Field(
        "not allowed", description="`allowed`: `vigil chaos run` may inject faults into this service (docs/chaos.md)")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _SERVICE_NAME.match(v):
            raise ValueError(f"service name {v!r} must be lowercase letters, digits, '-' or '_' (max 63)")
        return v

    def probe_names(self) -> list[str]:
        """Each probe's name: its own, or its kind, numbered when a kind repeats."""
        names: list[str] = []
        for p in self.probes:
            base = p.name or p.kind
            name, n = base, 2
            while name in names:
                name, n = f"{base}-{n}", n + 1
            names.append(name)
        return names


class Retention(Strict):
    raw: Duration = 14 * 86400.0
    rollup_1m: Duration = 90 * 86400.0
    rollup_1h: Duration = 400 * 86400.0


class StoreConfig(Strict):
    url: str = "sqlite:///vigil.db"
    retention: Retention = Retention()

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("sqlite://", "postgresql")):
            raise ValueError("store url must be sqlite:///path.db or postgresql+psycopg://user@host/db")
        return v


Scope = Literal["read", "ingest", "operate", "admin"]
ALL_SCOPES: tuple[Scope, ...] = ("read", "ingest", "operate", "admin")
MIN_API_KEY_CHARS = 16  # `secrets.token_urlsafe(24)`, what vigil generates, gives 32


class ApiKey(Strict):
    name: str
    key: Secret
    # Config keys predate scopes: by default they hold all four, as they always could do everything.
    scopes: list[Scope] = Field(
        default_factory=lambda: list(ALL_SCOPES), min_length=1,
        description="what the key may do (read, ingest, operate, admin); default all")
    rate_limit_per_min: int | None = Field(None, ge=1, description="requests per minute with this key; "
                                                                   "default server.rate_limit_per_key")

    @field_validator("key")
    @classmethod
    def _key(cls, v: Secret) -> Secret:
        # The messages say "found" so the loader does not append the value: a key never prints.
        key = v.get_secret_value()
        if key != key.strip():
            raise ValueError("an API key cannot start or end with whitespace (clients' headers are stripped); "
                             "found some")
        if len(key) < MIN_API_KEY_CHARS:
            raise ValueError(f"an API key needs at least {MIN_API_KEY_CHARS} characters (e.g. from `python -c "
                             f"'import secrets; print(secrets.token_urlsafe(24))'`); found {len(key)} characters")
        return v


class ServerConfig(Strict):
    external_url: str | None = Field(None, description="the URL people reach vigil at (links in notifications); "
                                                       "default http://host:port")
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    api_keys: list[ApiKey] = Field(default_factory=list)
    link_secret: Secret | None = Field(None, description="signs acknowledge/resolve links; default: one made "
                                                         "at the first start and kept in the store")
    link_expiry: Duration = Field(86400.0, ge=60, le=30 * 86400, description="how long a link works")
    session_secret: Secret | None = Field(None, description="signs session cookies; default: one made at the "
                                                            "first login and kept in the store")
    session_expiry: Duration = Field(12 * 3600.0, ge=60, le=30 * 86400, description="how long a login lasts")
    metrics_require_key: bool = Field(False, description="serve /metrics only with a key holding `read`")
    rate_limit_per_address: int = Field(100, ge=1, description="requests per minute from one client address "
                                                               "without a valid key")
    rate_limit_per_key: int = Field(6000, ge=1, description="requests per minute with one key")
    rate_limit_failures_per_address: int = Field(10, ge=1, description="wrong keys per minute from one client "
                                                                       "address before it must wait")
    tls_cert: str | None = Field(None, description="PEM certificate file: `vigil up` then serves https")
    tls_key: str | None = Field(None, description="PEM private key file of tls_cert")

    @field_validator("link_secret", "session_secret")
    @classmethod
    def _secret(cls, v: Secret | None, info: ValidationInfo) -> Secret | None:
        if v is not None and len(v.get_secret_value()) < 32:
            raise ValueError(f"server.{info.field_name} needs at least 32 characters (e.g. from `python -c "
                             "'import secrets; print(secrets.token_urlsafe(32))'`); found "
                             f"{len(v.get_secret_value())}")
        return v

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("server.tls_cert and server.tls_key go together: give both (https) or neither (http)")
        return self


class EngineConfig(Strict):
    max_concurrency: int = Field(200, ge=1, description="probes and scrapes in flight at once")
    tick: Duration = Field(1.0, description="a pass of the loop runs at least this often, even when no "
                                            "data arrives: timers, schedules and retries move on time")

    @field_validator("tick")
    @classmethod
    def _tick(cls, v: float) -> float:
        if not 0.01 <= v <= 60:
            raise ValueError("engine.tick must be between 10ms and 60s")
        return v


class VigilConfig(Strict):
    services: list[Service] = Field(default_factory=list)
    store: StoreConfig = StoreConfig()
    server: ServerConfig = ServerConfig()
    engine: EngineConfig = EngineConfig()
    incidents: IncidentsConfig = IncidentsConfig()
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    oncall: OnCallConfig = OnCallConfig()
    reports: list[ReportScheduleConfig] = Field(default_factory=list)
    remediation: RemediationConfig = RemediationConfig()
    runbooks: list[Runbook] = Field(default_factory=list)

    def service(self, name: str) -> Service:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(name)


def _reference_problems(data: dict, file: str, lines: dict) -> list[ConfigProblem]:
    """Checks across services (names unique, depends_on known and acyclic), each reported at the
    exact key in the file. They read the file's data as written, so they run (and report) even when
    other parts of the file do not validate."""
    def at(*path: str | int) -> tuple[int | None, str]:
        return lines.get(tuple(path)), format_path(tuple(path))

    services = data.get("services")
    if not isinstance(services, list):
        return []
    named = [(i, s) for i, s in enumerate(services) if isinstance(s, dict) and isinstance(s.get("name"), str)]
    problems: list[ConfigProblem] = []
    seen: dict[str, int] = {}
    for i, s in named:
        if s["name"] in seen:
            ln, p = at("services", i, "name")
            problems.append(ConfigProblem(file, ln, p, f"duplicate service name {s['name']!r} "
                                          f"(also services[{seen[s['name']]}])"))
        seen.setdefault(s["name"], i)
    graph: dict[str, list[str]] = {}
    for i, s in named:
        deps = s.get("depends_on")
        deps = [d for d in deps if isinstance(d, str)] if isinstance(deps, list) else []
        for j, dep in enumerate(s.get("depends_on") or []):
            if isinstance(dep, str) and dep not in seen:
                ln, p = at("services", i, "depends_on", j)
                problems.append(ConfigProblem(
                    file, ln, p, f"service {s['name']!r} depends_on unknown service {dep!r}; "
                                 f"known: {', '.join(seen) or 'none'}"))
        graph.setdefault(s["name"], []).extend(d for d in deps if d in seen)
    cycle = _find_cycle(graph)
    if cycle:
        ln, p = at("services", seen[cycle[0]], "depends_on")
        problems.append(ConfigProblem(file, ln, p, f"depends_on forms a cycle: {' -> '.join(cycle)}"))
    return problems


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, trail: list[str]) -> list[str] | None:
        if state.get(node) == 1:
            return trail[trail.index(node):] + [node]
        if state.get(node) == 2:
            return None
        state[node] = 1
        for dep in graph.get(node, []):
            found = visit(dep, trail + [node])
            if found:
                return found
        state[node] = 2
        return None

    for n in graph:
        found = visit(n, [])
        if found:
            return found
    return None


def validate(doc: Document) -> VigilConfig:
    """Every problem of the file at once: those found reading it, schema errors, and the checks
    across services; raises ConfigError listing them all."""
    data = {} if doc.data is None else doc.data
    problems = list(doc.problems)
    if not isinstance(data, dict):
        problems.append(ConfigProblem(doc.file, doc.lines.get((), 1), "",
                                      "the file must be a mapping of keys (services:, store:, ...)"))
        raise ConfigError(problems)
    cfg: VigilConfig | None = None
    try:
        cfg = VigilConfig.model_validate(data)
    except ValidationError as exc:
        problems += problems_from_validation(exc, doc, secret_paths(VigilConfig, data))
    problems += _reference_problems(data, doc.file, doc.lines)
    if cfg is None:
        raise ConfigError(problems)
    alerting, more = resolve_alerting(cfg.alerting, [s.name for s in cfg.services], doc.file, doc.lines)
    problems += more
    problems += oncall_problems(cfg.oncall, cfg.services, [r.name for r in alerting.receivers],
                                alerting.route is not None, doc)
    problems += _report_problems(cfg.reports, alerting, doc)
    problems += runbook_problems(cfg.runbooks, [s.name for s in cfg.services], doc,
                                 [r.name for r in alerting.receivers], alerting.route is not None)
    if problems:
        raise ConfigError(problems)
    return cfg.model_copy(update={"alerting": alerting})


def _report_problems(reports: list[ReportScheduleConfig], alerting: AlertingConfig,
                     doc: Document) -> list[ConfigProblem]:
    """Scheduled reports go by email through the outbox: each receiver must exist and have email."""
    problems: list[ConfigProblem] = []
    receivers = {r.name: r for r in alerting.receivers}
    for i, report in enumerate(reports):
        for j, name in enumerate(report.receivers):
            path = ("reports", i, "receivers", j)
            receiver = receivers.get(name)
            if alerting.route is None:
                why = "reports are sent through alerting: configure alerting.route and alerting.receivers"
            elif receiver is None:
                why = f"unknown receiver {name!r}; alerting.receivers has: {', '.join(receivers) or 'none'}"
            elif not receiver.email_configs:
                why = f"receiver {name!r} has no email_configs; reports are sent by email"
            else:
                continue
            problems.append(ConfigProblem(doc.file, doc.lines.get(path), format_path(path), why))
    return problems


def config_warnings(cfg: VigilConfig) -> list[str]:
    """What is valid but probably not meant: nothing to watch."""
    if not cfg.services:
        return ["no services are configured: nothing is watched "
                "(add a services: list, see docs/configuration.md)"]
    return [f"service {s.name!r} has no probes and no metrics: only samples pushed to the API are seen"
            for s in cfg.services if not s.probes and not s.metrics]


def load_config(path: str | Path) -> VigilConfig:
    """Read and validate a vigil.yaml; raises ConfigError listing every problem."""
    return validate(load_file(path))


def parse_config(text: str, file: str = "<string>", env: dict[str, str] | None = None) -> VigilConfig:
    return validate(read_yaml(text, file, env))
