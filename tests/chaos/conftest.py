"""The chaos tests run experiments against real services on loopback: the demo fleet (no load, so the
tests count requests exactly) and, where they need them, small processes of their own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from vigil.chaos.experiment import parse_experiment
from vigil.chaos.journal import Journal
from vigil.chaos.plan import Plan, build_plan
from vigil.chaos.runner import ExperimentRun
from vigil.chaos.scope import Scope
from vigil.config import parse_config
from vigil.demo.fleet import Fleet

API_KEY = "chaos-test-key-0123456789"


@pytest.fixture(scope="package")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with Fleet(tmp_path_factory.mktemp("chaos-fleet"), load=False, leak_cap_mb=32, seed=3) as f:
        yield f


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        yield client


@pytest.fixture
def shop(fleet: Fleet, http: httpx.Client) -> Iterator[Fleet]:
    """The fleet, with every fault cleared (and a crashed service restarted) after the test."""
    yield fleet
    for name, member in fleet.services.items():
        if not member.running():
            fleet.restart(name)
        http.delete(member.admin_url)


def faults(http: httpx.Client, fleet: Fleet, name: str) -> dict[str, Any]:
    """A service's fault knobs as it reports them (the ground truth of what an experiment left behind)."""
    return http.get(fleet.services[name].admin_url).json()["fault"]


def config_text(fleet: Fleet, not_allowed: tuple[str, ...] = (), server_port: int = 8080) -> str:
    data = yaml.safe_load(fleet.vigil_config(server_port=server_port, api_key=API_KEY))
    for svc in data["services"]:
        if svc["name"] in not_allowed:
            svc["chaos"] = "not allowed"
    return yaml.safe_dump(data, sort_keys=False)


def write_config(tmp_path: Path, fleet: Fleet, not_allowed: tuple[str, ...] = (), server_port: int = 8080) -> Path:
    path = tmp_path / "vigil.yaml"
    path.write_text(config_text(fleet, not_allowed, server_port))
    return path


def plan(experiment: dict[str, Any] | str, config: str | None = None, env: dict[str, str] | None = None,
         file: str = "experiment.yaml") -> Plan:
    text = experiment if isinstance(experiment, str) else yaml.safe_dump(experiment, sort_keys=False)
    cfg = parse_config(config, env={}) if config is not None else None
    return build_plan(parse_experiment(text, file, env or {}), Scope(cfg, "vigil.yaml" if cfg else None))


def run(p: Plan, journal: Path | None = None, lines: list[str] | None = None) -> Journal:
    """Run a plan to its end, on an event loop of its own (the test checks the services meanwhile with
    a plain client)."""
    return asyncio.run(ExperimentRun(p, journal, report=(lines.append if lines is not None else None)).run())


def probe(name: str, tolerance: Any, func: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "probe", "name": name, "tolerance": tolerance,
            "provider": {"type": "vigil", "func": func, "arguments": arguments}}


def action(name: str, func: str, pauses: dict[str, float] | None = None, **arguments: Any) -> dict[str, Any]:
    act: dict[str, Any] = {"type": "action", "name": name,
                           "provider": {"type": "vigil", "func": func, "arguments": arguments}}
    if pauses:
        act["pauses"] = pauses
    return act
