"""Docs are checked by tests: every config key, CLI command and adapter kind appears in the docs."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from pydantic import BaseModel

from vigil.cli import BENCHMARKS, app
from vigil.config import VigilConfig

ROOT = Path(__file__).resolve().parents[2]


def all_docs() -> str:
    parts = [(ROOT / "README.md").read_text()]
    parts += [p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(parts)


def _models(annotation: object) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.append(annotation)
    for arg in typing.get_args(annotation):
        found += _models(arg)
    return found


def config_models() -> list[type[BaseModel]]:
    """Every model reachable from the root of the configuration schema."""
    todo, seen = [VigilConfig], []
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.append(model)
        for field in model.model_fields.values():
            todo += _models(field.annotation)
    return seen


def config_keys() -> set[str]:
    return {name for model in config_models() for name in model.model_fields}


def test_every_config_key_is_documented() -> None:
    docs = all_docs()
    missing = sorted(k for k in config_keys() if not re.search(rf"\b{re.escape(k)}\b", docs))
    assert not missing, f"config keys not mentioned in README.md or docs/*.md: {missing}"


def test_every_cli_command_is_documented() -> None:
    docs = all_docs()
    commands = [c.name for c in app.registered_commands]
    missing = [c for c in commands if f"vigil {c}" not in docs]
    missing += [b for b in BENCHMARKS.kinds() if f"vigil bench {b}" not in docs]
    assert not missing, f"commands not documented as 'vigil <command>': {missing}"


def test_every_adapter_kind_is_documented() -> None:
    docs = all_docs()
    kinds: set[str] = set()
    for model in config_models():
        kind = model.model_fields.get("kind")
        if kind is not None:
            kinds.update(typing.get_args(kind.annotation))
    missing = sorted(k for k in kinds if f"kind: {k}" not in docs and f"`{k}`" not in docs)
    assert not missing, f"adapter kinds without docs: {missing}"


def test_the_readme_example_config_is_valid(monkeypatch, tmp_path: Path) -> None:
    from vigil.config import load_config

    readme = (ROOT / "README.md").read_text()
    example = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "readme-example.yaml"
    path.write_text(example)
    monkeypatch.setenv("VIGIL_API_KEY", "a-key-for-the-test")
    config = load_config(path)
    assert [s.name for s in config.services] == ["storefront", "catalog", "payments"]
    storefront = config.services[0]
    assert storefront.scaling is not None and storefront.scaling.mode == "predictive"
    assert len(storefront.rules) == 2 and storefront.forecast.series[0].limit == 80
