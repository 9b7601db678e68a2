"""The root of the configuration schema (vigil.yaml)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, ValidationError, field_validator

from vigil.config.alerting import AlertingConfig, resolve_alerting
from vigil.config.detect import DetectConfig
from vigil.config.forecast import ForecastConfig
from vigil.config.loader import (
    ConfigError,
    ConfigProblem,
    format_path,
    load_file,
    problems_from_validation,
    read_yaml,
)
from vigil.config.rules import Rule
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


class ApiKey(Strict):
    name: str
    key: Secret


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    api_keys: list[ApiKey] = Field(default_factory=list)


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
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)

    def service(self, name: str) -> Service:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(name)


def _reference_problems(cfg: VigilConfig, file: str, lines: dict) -> list[ConfigProblem]:
    """Checks across services (names unique, depends_on known and acyclic), each reported at the
    exact key in the file."""
    def at(*path: str | int) -> tuple[int | None, str]:
        return lines.get(tuple(path)), format_path(tuple(path))

    problems: list[ConfigProblem] = []
    seen: dict[str, int] = {}
    for i, s in enumerate(cfg.services):
        if s.name in seen:
            ln, p = at("services", i, "name")
            problems.append(ConfigProblem(file, ln, p, f"duplicate service name {s.name!r} "
                                          f"(also services[{seen[s.name]}])"))
        seen.setdefault(s.name, i)
    for i, s in enumerate(cfg.services):
        for j, dep in enumerate(s.depends_on):
            if dep not in seen:
                ln, p = at("services", i, "depends_on", j)
                problems.append(ConfigProblem(file, ln, p, f"service {s.name!r} depends_on unknown service "
                                              f"{dep!r}; known: {', '.join(seen) or 'none'}"))
    cycle = _find_cycle({s.name: [d for d in s.depends_on if d in seen] for s in cfg.services})
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


def validate(data: object, file: str, lines: dict) -> VigilConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(file, lines.get((), 1), "",
                                         "the file must be a mapping of keys (services:, store:, ...)")])
    try:
        cfg = VigilConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation(exc, file, lines, data)) from None
    alerting, problems = resolve_alerting(cfg.alerting, [s.name for s in cfg.services], file, lines)
    problems = _reference_problems(cfg, file, lines) + problems
    if problems:
        raise ConfigError(problems)
    return cfg.model_copy(update={"alerting": alerting})


def load_config(path: str | Path) -> VigilConfig:
    """Read and validate a vigil.yaml; raises ConfigError listing every problem."""
    data, lines, file = load_file(path)
    return validate(data, file, lines)


def parse_config(text: str, file: str = "<string>", env: dict[str, str] | None = None) -> VigilConfig:
    data, lines = read_yaml(text, file, env)
    return validate(data, file, lines)
