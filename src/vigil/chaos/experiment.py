"""An experiment, in Chaos Toolkit's format: read from YAML or JSON, validated completely before anything runs.

    title, description, tags, configuration,
    steady-state-hypothesis: {title, probes: [{type: probe, name, tolerance, provider}]},
    method: [activity | {ref: NAME}], rollbacks: [activity | {ref: NAME}]

An activity is `{type: action|probe, name, provider, pauses: {before, after}, background}`; its provider is
`http`, `process` or `python` (as in Chaos Toolkit) or `vigil` (the built-in actions and probes, by `func`).
Strings may hold `${name}` of a configuration entry; an entry is a value or `{type: env, key: VAR, default}`."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator

from vigil.config.loader import (
    ConfigError,
    ConfigProblem,
    Document,
    Path_,
    format_path,
    problems_from_validation,
    read_yaml,
)

MAX_PAUSE_S = 600.0  # one pause; an experiment is a planned, watched event, not a soak test
MAX_TIMEOUT_S = 600.0  # one activity
_SUBST = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
# Chaos Toolkit keys vigil does not run: refused by name rather than silently ignored.
UNSUPPORTED = {
    "secrets": "use a configuration entry {type: env, key: NAME} named like a key, token, password or secret "
               "(e.g. vigil_api_key): its value is masked in the output and the journal",
    "controls": "controls are not supported by vigil chaos",
    "runtime": "vigil always runs the rollbacks and checks the hypothesis before and after the method",
}


class ExperimentError(ConfigError):
    """The experiment cannot run; each problem names the file, the line and the key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Pauses(_Model):
    before: float = Field(default=0.0, ge=0, le=MAX_PAUSE_S, description="seconds to wait before the activity")
    after: float = Field(default=0.0, ge=0, le=MAX_PAUSE_S, description="seconds to wait after it")


def _timeout(v: float) -> float:
    if not 0 < v <= MAX_TIMEOUT_S:
        raise ValueError(f"a timeout must be more than 0 and at most {MAX_TIMEOUT_S:g} s")
    return v


class HttpProvider(_Model):
    type: Literal["http"]
    url: str
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    arguments: dict[str, Any] | list[Any] | str | None = Field(None, description="query (GET) or JSON body")
    timeout: float | tuple[float, float] = Field(30.0, description="seconds, or [connect, read]")
    expected_status: int | list[int] | None = Field(None, description="any other status fails the activity")
    verify_tls: bool = True

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        if v.upper() not in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            raise ValueError(f"method must be GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS; found {v!r}")
        return v.upper()

    @field_validator("timeout")
    @classmethod
    def _timeouts(cls, v: float | tuple[float, float]) -> float | tuple[float, float]:
        for t in (v if isinstance(v, tuple) else (v,)):
            _timeout(t)
        return v


class _Timed(_Model):
    timeout: float | None = None

    @field_validator("timeout")
    @classmethod
    def _check_timeout(cls, v: float | None) -> float | None:
        return None if v is None else _timeout(v)


class ProcessProvider(_Timed):
    type: Literal["process"]
    path: str = Field(min_length=1, description="the program; not run through a shell")
    arguments: str | list[str] = Field("", description="split like a shell would (no expansion), or a list")
    timeout: float | None = 30.0


class PythonProvider(_Timed):
    type: Literal["python"]
    module: str = Field(min_length=1)
    func: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    timeout: float | None = 60.0


class VigilProvider(_Timed):
    type: Literal["vigil"]
    func: str = Field(min_length=1, description="a built-in action or probe (docs/chaos.md)")
    arguments: dict[str, Any] = Field(default_factory=dict)
    timeout: float | None = Field(None, description="default: the built-in's own bound")


Provider = Annotated[HttpProvider | ProcessProvider | PythonProvider | VigilProvider,
                     Field(discriminator="type")]


class Activity(_Model):
    type: Literal["action", "probe"]
    name: str = Field(min_length=1)
    provider: Provider
    tolerance: Any = None
    pauses: Pauses = Pauses()
    background: bool = False

    @field_validator("tolerance")
    @classmethod
    def _tolerance(cls, v: Any) -> Any:
        from vigil.chaos.tolerance import parse_tolerance

        if v is not None:
            parse_tolerance(v)
        return v


class Ref(_Model):
    ref: str = Field(min_length=1, description="the name of an activity declared earlier")


def _item_kind(v: Any) -> str:
    return "ref" if isinstance(v, dict) and "ref" in v else "activity"


Item = Annotated[Annotated[Activity, Tag("activity")] | Annotated[Ref, Tag("ref")], Discriminator(_item_kind)]


class Hypothesis(_Model):
    title: str = ""
    probes: list[Item] = Field(default_factory=list)


class Experiment(_Model):
    version: str | None = None
    title: str = Field(min_length=1)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    configuration: dict[str, Any] = Field(default_factory=dict)
    contributions: dict[str, Any] = Field(default_factory=dict)
    extensions: list[Any] = Field(default_factory=list)
    steady_state_hypothesis: Hypothesis | None = Field(None, alias="steady-state-hypothesis")
    method: list[Item] = Field(min_length=1)
    rollbacks: list[Item] = Field(default_factory=list)


class _Verbatim(Mapping[str, str]):
    """An environment for the YAML reader that leaves every `${name}` as written: in an experiment
    `${name}` is a configuration entry, substituted later (Chaos Toolkit's rule), not a variable."""

    def __getitem__(self, key: str) -> str:
        return "${" + key + "}"

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@dataclass(frozen=True)
class Loaded:
    """An experiment ready to plan: validated with `${...}` substituted; `doc` holds it as written."""

    experiment: Experiment
    doc: Document
    configuration: dict[str, Any]
    secrets: set[str]  # values from the environment, or of secret-looking entries: masked wherever shown

    @property
    def written(self) -> dict[str, Any]:
        return self.doc.data if isinstance(self.doc.data, dict) else {}


def read_experiment(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Loaded:
    """Parse and validate an experiment file; raises ExperimentError listing every problem."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExperimentError([ConfigProblem(file, None, "", "experiment file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExperimentError([ConfigProblem(file, None, "", f"cannot read the experiment: {exc}")]) from None
    return parse_experiment(text, file, env)


def parse_experiment(text: str, file: str = "<experiment>", env: Mapping[str, str] | None = None) -> Loaded:
    try:
        doc = read_yaml(text, file, _Verbatim())  # JSON is read by the YAML reader too, with its lines
    except ConfigError as exc:
        if not file.endswith(".json"):
            raise ExperimentError(exc.problems) from None
        try:
            json.loads(text)
        except ValueError as jexc:
            raise ExperimentError([ConfigProblem(file, getattr(jexc, "lineno", None), "",
                                                 f"invalid JSON: {jexc}")]) from None
        raise ExperimentError(exc.problems) from None
    data = doc.data
    problems = list(doc.problems)
    if not isinstance(data, dict):
        raise ExperimentError([ConfigProblem(file, 1, "", "an experiment is a mapping with title, "
                                                          "steady-state-hypothesis, method and rollbacks")])
    for key, why in UNSUPPORTED.items():
        if key in data:
            problems.append(ConfigProblem(file, doc.line((key,)), key, f"not supported: {why}"))
    configuration, secrets, more = _configuration(data.get("configuration"), doc, env)
    problems += more
    missing: list[tuple[Path_, str]] = []
    clean = {k: v if k in ("configuration", "title") else _substitute(v, configuration, (k,), missing)
             for k, v in data.items() if k not in UNSUPPORTED}
    for path, name in missing:
        problems.append(ConfigProblem(file, doc.line(path), format_path(path),
                                      f"${{{name}}} is not a configuration entry (known: "
                                      f"{', '.join(sorted(configuration)) or 'none'}); add it under configuration:"))
    experiment: Experiment | None = None
    try:
        experiment = Experiment.model_validate(clean)
    except ValidationError as exc:
        problems += _untagged(problems_from_validation(exc, doc, set()), doc)
    problems += _structure_problems(data, doc)
    if problems:
        raise ExperimentError(problems)
    assert experiment is not None
    return Loaded(experiment, doc, configuration, secrets)


def _structure_problems(data: dict[str, Any], doc: Document) -> list[ConfigProblem]:
    """Refs to earlier activities, hypothesis probes with tolerances: read from the file as written, so
    they are reported along with the schema's problems."""
    out: list[ConfigProblem] = []
    seen: set[str] = set()

    def at(path: Path_, msg: str) -> None:
        out.append(ConfigProblem(doc.file, doc.line(path), format_path(path), msg))

    hyp = data.get("steady-state-hypothesis")
    sections: list[tuple[Path_, Any]] = [(("steady-state-hypothesis", "probes"),
                                          hyp.get("probes") if isinstance(hyp, dict) else None),
                                         (("method",), data.get("method")), (("rollbacks",), data.get("rollbacks"))]
    for where, items in sections:
        for i, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict):
                continue
            path = where + (i,)
            if "ref" in item:
                if item["ref"] not in seen:
                    at(path + ("ref",), f"ref {item['ref']!r} names no activity declared before it")
                continue
            seen.add(str(item.get("name")))
            if where[0] == "steady-state-hypothesis":
                if item.get("type") == "action":
                    at(path + ("type",), "the steady-state hypothesis holds probes only; found an action")
                if item.get("tolerance") is None:
                    at(path + ("tolerance",), "a steady-state probe needs a tolerance (the value that "
                                              "means the system is normal), e.g. tolerance: 200")
                if item.get("background"):
                    at(path + ("background",), "steady-state probes run one after the other")
    return out


_PATH_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
_PROVIDER_TYPES = ("http", "process", "python", "vigil")


def _untagged(problems: list[ConfigProblem], doc: Document) -> list[ConfigProblem]:
    """Drop the union tags pydantic puts in a location (method[0].activity.provider.http.url ->
    method[0].provider.url) and name a provider's tag by its key, `type`; then find the line again."""
    out = []
    for p in problems:
        parts: list[str | int] = [int(m[1]) if m[1] else m[2] for m in _PATH_PART.finditer(p.path)]
        clean: list[str | int] = []
        for part in parts:
            after_index = bool(clean) and isinstance(clean[-1], int)
            if (after_index and part in ("activity", "ref")) or \
                    (clean and clean[-1] == "provider" and part in _PROVIDER_TYPES):
                continue
            clean.append(part)
        message = p.message
        if clean[-2:] == ["provider", "kind"]:
            clean[-1] = "type"
            message = message.replace("unknown kind", "unknown provider type").replace(
                "required key is missing", "the provider needs a type")
        path = tuple(clean)
        out.append(ConfigProblem(p.file, doc.line(path), format_path(path), message))
    return out


_SECRET_NAMES = ("key", "token", "password", "secret")


def _configuration(spec: Any, doc: Document, env: Mapping[str, str] | None,
                   ) -> tuple[dict[str, Any], set[str], list[ConfigProblem]]:
    """The configuration's values, and the secret ones (named like a key, token, password or secret)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    secrets: set[str] = set()
    problems: list[ConfigProblem] = []
    for key, entry in (spec.items() if isinstance(spec, dict) else []):
        where = ("configuration", key)
        if isinstance(entry, dict):
            if entry.get("type") != "env" or not isinstance(entry.get("key"), str):
                problems.append(ConfigProblem(doc.file, doc.line(where), format_path(where),
                                              "an entry is a value or {type: env, key: VARIABLE, default: ...}"))
                continue
            if entry["key"] in env:
                values[key] = env[entry["key"]]
            elif "default" in entry:
                values[key] = entry["default"]
            else:
                problems.append(ConfigProblem(
                    doc.file, doc.line(where), format_path(where),
                    f"environment variable {entry['key']} is not set; set it, or give the entry a default"))
                continue
        else:
            values[key] = entry
        if any(s in str(key).lower() for s in _SECRET_NAMES):
            secrets.add(str(values[key]))
    return values, {s for s in secrets if len(s) >= 3}, problems


def _substitute(value: Any, config: Mapping[str, Any], path: Path_, missing: list[tuple[Path_, str]]) -> Any:
    """`value` with each `${name}` replaced by the configuration entry; a string that is one `${name}`
    takes the entry's own type (a number stays a number)."""
    if isinstance(value, dict):
        return {k: _substitute(v, config, path + (k,), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, config, path + (i,), missing) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    for name in _SUBST.findall(value):
        if name not in config:
            missing.append((path, name))
            return value
    whole = _SUBST.fullmatch(value)
    if whole:
        return config[whole.group(1)]
    return _SUBST.sub(lambda m: str(config[m.group(1)]), value)
