"""Reading an experiment: Chaos Toolkit's format, every problem at its line, before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.chaos.conftest import plan
from vigil.chaos.experiment import ExperimentError, parse_experiment, read_experiment


def problems(text: str, file: str = "exp.yaml", env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ExperimentError) as err:
        parse_experiment(text, file, env or {})
    return [str(p) for p in err.value.problems]


MINIMAL = """title: t
method:
  - type: probe
    name: look
    provider: {type: http, url: "http://127.0.0.1:9/"}
"""


def test_a_minimal_experiment_and_its_defaults() -> None:
    loaded = parse_experiment(MINIMAL, "exp.yaml", {})
    exp = loaded.experiment
    assert exp.title == "t" and exp.steady_state_hypothesis is None and exp.rollbacks == []
    act = exp.method[0]
    assert act.pauses.before == 0 and act.pauses.after == 0 and act.background is False
    assert act.provider.type == "http" and act.provider.method == "GET" and act.provider.timeout == 30


def test_every_problem_is_reported_at_its_line() -> None:
    text = """title: t
steady-state-hypothesis:
  title: h
  probes:
    - type: action
      name: not-a-probe
      provider: {type: process, path: "true"}
    - type: probe
      name: no-tolerance
      provider: {type: process, path: "true"}
method:
  - type: action
    name: a
    provider: {type: nosuch}
  - type: probe
    name: b
    tolerance: {type: range, range: [5, 1]}
    provider: {type: http, url: "http://127.0.0.1:9/", method: FETCH}
  - {ref: undeclared}
  - type: action
    name: c
    pauses: {before: 3600}
    provider: {type: python, module: os, func: getcwd, colour: red}
secrets: {x: {y: 1}}
"""
    found = problems(text)
    expect = [
        (":5:", "holds probes only"),
        (":8:", "probes[1].tolerance: a steady-state probe needs a tolerance"),
        (":14:", "provider.type: unknown provider type 'nosuch'"),
        (":17:", "range: [low, high]"),
        (":18:", "method[1].provider.method: method must be GET"),
        (":19:", "'undeclared' names no activity declared before"),
        (":22:", "less than or equal to 600"),
        (":23:", "method[3].provider.colour: unknown key"),
        (":24:", "secrets: not supported"),
    ]
    for line, text_ in expect:
        assert any(line in p and text_ in p for p in found), (line, text_, found)


def test_refs_run_the_activity_declared_earlier(tmp_path: Path) -> None:
    text = MINIMAL + "rollbacks:\n  - {ref: look}\n"
    p = plan(text)
    assert p.rollbacks[0].activity.name == "look" and p.rollbacks[0].written["name"] == "look"


def test_json_works_as_yaml_does(tmp_path: Path) -> None:
    path = tmp_path / "exp.json"
    path.write_text(json.dumps({"title": "j", "method": [
        {"type": "probe", "name": "p", "provider": {"type": "process", "path": "true"}}]}))
    assert read_experiment(path).experiment.title == "j"
    path.write_text('{"title": "j", "method": [}')
    with pytest.raises(ExperimentError, match="invalid"):
        read_experiment(path)
    with pytest.raises(ExperimentError, match="experiment file not found"):
        read_experiment(tmp_path / "missing.yaml")


def test_configuration_entries_from_the_environment_keep_their_type() -> None:
    text = """title: t
configuration:
  port: 9
  path: {type: env, key: P, default: /health}
  vigil_api_key: {type: env, key: K}
method:
  - type: probe
    name: look
    pauses: {after: "${pause}"}
    provider: {type: http, url: "http://127.0.0.1:${port}${path}", timeout: "${port}"}
"""
    assert any(":5:" in p and "environment variable K is not set" in p for p in problems(text))
    assert any(":9:" in p and "${pause} is not a configuration entry" in p
               for p in problems(text, env={"K": "a-secret-value"}))
    loaded = parse_experiment(text.replace('"${pause}"', "1"), "exp.yaml", {"K": "a-secret-value", "P": "/x"})
    provider = loaded.experiment.method[0].provider
    assert provider.url == "http://127.0.0.1:9/x" and provider.timeout == 9  # a whole ${port} stays a number
    assert loaded.configuration == {"port": 9, "path": "/x", "vigil_api_key": "a-secret-value"}
    assert loaded.secrets == {"a-secret-value"}  # named like a key: masked wherever shown
    assert loaded.written["method"][0]["provider"]["url"] == "http://127.0.0.1:${port}${path}"


def test_vigil_functions_check_their_arguments_before_anything_runs() -> None:
    text = """title: t
method:
  - type: action
    name: slow
    provider:
      type: vigil
      func: inject_latency
      arguments: {url: "http://127.0.0.1:9", latency_ms: -5, colour: red}
  - type: action
    name: what
    provider: {type: vigil, func: inject_gremlins}
  - type: action
    name: both
    provider: {type: vigil, func: clear_faults, arguments: {url: "http://127.0.0.1:9", service: x}}
"""
    with pytest.raises(ExperimentError) as err:
        plan(text)
    found = [str(p) for p in err.value.problems]
    assert any(":8:" in p and "latency_ms" in p and "greater than 0" in p for p in found), found
    assert any("arguments.colour" in p and "unknown argument" in p for p in found), found
    assert any(":11:" in p and "unknown vigil function 'inject_gremlins'" in p for p in found), found
    assert any(":14:" in p and "either service" in p for p in found), found


def test_a_python_provider_is_checked_against_its_function() -> None:
    text = """title: t
method:
  - {type: probe, name: a, provider: {type: python, module: no_such_module_here, func: f}}
  - {type: probe, name: b, provider: {type: python, module: os.path, func: join, arguments: {nope: 1}}}
"""
    with pytest.raises(ExperimentError) as err:
        plan(text)
    found = [str(p) for p in err.value.problems]
    assert any("cannot import module 'no_such_module_here'" in p for p in found), found
    assert any("os.path.join does not take these arguments" in p for p in found), found
